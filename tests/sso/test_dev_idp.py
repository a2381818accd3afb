"""`manage.py dev_idp` (issue 12, item 9): the development IdP signs RSA-SHA256
assertions our SP accepts end to end, registers itself as a connection, serves on
loopback, and refuses to start without DEBUG."""

from __future__ import annotations

import threading
import urllib.request
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import CommandError, call_command

from sso.dev_idp import DevIdp, dev_idp_server
from sso.models import IdentityProvider
from sso.services import idp_import
from tests.sso.conftest import identity_user, roles_of
from users.services import Actor

pytestmark = pytest.mark.django_db

SLUG = "dev-idp"


@pytest.fixture
def dev_idp(tmp_path, site) -> DevIdp:
    idp = DevIdp.with_keys_in(tmp_path / "keys", base_url="http://127.0.0.1:8001", slug=SLUG)
    idp_import(slug=SLUG, metadata_xml=idp.metadata_xml().encode(), actor=Actor.system("t"))
    return idp


def _sign_in(client, dev_idp: DevIdp, email: str, next_path: str = "/api/v1/me/"):
    started = client.get(f"/sso/{SLUG}/login/", {"next": next_path})
    assert started.status_code == 302
    query = {k: v[0] for k, v in parse_qs(urlsplit(started["Location"]).query).items()}
    request_id = dev_idp.request_read(query["SAMLRequest"])
    assert email in dev_idp.chooser_html(request_id, query["RelayState"])
    acs, saml_response = dev_idp.response_for(request_id=request_id, email=email)
    assert acs == f"http://testserver/sso/{SLUG}/acs/"
    return client.post(
        urlsplit(acs).path,
        {"SAMLResponse": saml_response, "RelayState": query["RelayState"]},
        follow=True,
    )


def test_a_sample_person_signs_in_with_roles_and_manager(client, dev_idp):
    _sign_in(client, dev_idp, "ada@example.com")
    client.logout()
    response = _sign_in(client, dev_idp, "grace@example.com")

    assert response.status_code == 200
    assert response.json()["userName"] == "grace@example.com"
    grace = identity_user("grace@example.com", slug=SLUG)
    assert (grace.first_name, grace.department, grace.title) == ("Grace", "Engineering", "Engineer")
    assert grace.manager == identity_user("ada@example.com", slug=SLUG)
    assert roles_of(grace) == {"Engineering": {f"saml:{SLUG}"}}


def test_its_assertions_are_signed_with_rsa_sha256(dev_idp, client):
    started = client.get(f"/sso/{SLUG}/login/")
    query = parse_qs(urlsplit(started["Location"]).query)
    request_id = dev_idp.request_read(query["SAMLRequest"][0])
    _acs, saml_response = dev_idp.response_for(request_id=request_id, email="ada@example.com")

    import base64

    xml = base64.b64decode(saml_response).decode()
    assert 'Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"' in xml
    assert 'Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"' in xml
    with pytest.raises(ValueError, match="already answered"):
        dev_idp.response_for(request_id=request_id, email="ada@example.com")


def test_it_refuses_to_start_without_debug(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="only with DEBUG on"):
        call_command("dev_idp", "--print-metadata")


def test_it_serves_its_metadata_on_loopback(dev_idp):
    server = dev_idp_server(dev_idp, 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        assert host == "127.0.0.1"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metadata", timeout=5) as answer:
            body = answer.read().decode()
    finally:
        server.shutdown()
        server.server_close()
    assert f'entityID="{dev_idp.entity_id}"' in body


def test_the_command_registers_the_connection(settings, tmp_path, monkeypatch):
    settings.DEBUG = True
    settings.VAR_DIR = tmp_path
    monkeypatch.setattr(
        "sso.management.commands.dev_idp.Command._serve", lambda self, idp, port: None
    )

    call_command("dev_idp", "--port", "8009")

    idp = IdentityProvider.objects.get(slug=SLUG)
    assert idp.entity_id == "http://127.0.0.1:8009/metadata"
    assert idp.sso_url == "http://127.0.0.1:8009/sso"
