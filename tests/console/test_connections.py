"""Admin → Connections (issue 12, item 1): a connection made from a vendor preset shows
the values to paste, serves SP metadata before the IdP's metadata exists, imports that
metadata by paste, upload or URL, mints a SCIM token shown once, and ticks its
checklist from what really happened. Every change is in the audit trail."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from axero_idp.bearer_tokens import token_hash
from scim.models import ScimToken
from sso.models import IdentityProvider, LoginFlow
from sso.presets import ENTRA_ROLE
from tests.scim.conftest import ScimClient
from tests.sso.conftest import SLUG, Browser
from tests.sso.idp_peer import IdpPeer
from users.models import AuditEvent, Connection

pytestmark = pytest.mark.django_db

ADD = "/admin/users/connection/add/"


def _create(client, slug: str = "entra", vendor: str = "entra") -> Connection:
    response = client.post(ADD, {"slug": slug, "vendor": vendor})
    assert response.status_code == 302, response.content[:2000]
    assert (
        response["Location"]
        == f"/admin/users/connection/{Connection.objects.get(slug=slug).pk}/change/"
    )
    return Connection.objects.get(slug=slug)


def _page(client, connection: Connection):
    response = client.get(f"/admin/users/connection/{connection.pk}/change/")
    assert response.status_code == 200
    return response.content.decode()


def _value(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}" value="([^"]*)"', html)
    assert match, element_id
    return match.group(1)


def test_creating_a_connection_from_a_preset_is_audited_and_shows_the_values(admin_client, site):
    connection = _create(admin_client)

    assert connection.vendor == "entra"
    event = AuditEvent.objects.get(action="connection.created", target_id=str(connection.pk))
    assert (event.actor_kind, event.actor_name, event.detail) == (
        "admin",
        "root",
        {"vendor": "entra"},
    )
    html = _page(admin_client, connection)
    assert _value(html, "value-entity-id") == "http://testserver/sso/entra/metadata/"
    assert _value(html, "value-acs") == "http://testserver/sso/entra/acs/"
    assert _value(html, "value-sls") == "http://testserver/sso/entra/sls/"
    assert _value(html, "value-login") == "http://testserver/sso/entra/login/"
    assert _value(html, "value-metadata") == "http://testserver/sso/entra/metadata/"
    assert _value(html, "value-scim") == "http://testserver/scim/v2"
    assert 'data-copy="value-acs"' in html
    assert "Steps in Microsoft Entra ID" in html
    assert "App Federation Metadata Url" in html
    for check in ("check-metadata", "check-scim", "check-login"):
        assert f'class="todo" id="{check}"' in html


def test_the_page_obeys_the_content_security_policy(admin_client, site):
    connection = _create(admin_client)

    response = admin_client.get(f"/admin/users/connection/{connection.pk}/change/")

    html = response.content.decode()
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert "style=" not in html
    assert '<script src="/static/console/copy.js" defer></script>' in html
    assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*\bnonce=)", html)


def test_a_bad_slug_or_a_taken_one_is_refused_on_the_form(admin_client):
    _create(admin_client, slug="okta", vendor="okta")

    taken = admin_client.post(ADD, {"slug": "okta", "vendor": "okta"})
    bad = admin_client.post(ADD, {"slug": "Okta_2", "vendor": "okta"})

    assert taken.status_code == 200 and "already exists" in taken.content.decode()
    assert bad.status_code == 200
    assert "Lower-case letters, digits and -, at most 50." in bad.content.decode()
    assert list(Connection.objects.values_list("slug", flat=True)) == ["okta"]


def test_sp_metadata_is_served_before_the_idp_metadata_and_logins_wait(admin_client, client, site):
    _create(admin_client)

    metadata = client.get("/sso/entra/metadata/")
    login = client.get("/sso/entra/login/")

    assert metadata.status_code == 200
    assert metadata["Content-Type"] == "application/samlmetadata+xml"
    body = metadata.content.decode()
    assert 'entityID="http://testserver/sso/entra/metadata/"' in body
    assert 'Location="http://testserver/sso/entra/acs/"' in body
    assert "<ds:X509Certificate>" in body
    assert login.status_code == 404
    assert "not set up yet" in login.content.decode()
    assert LoginFlow.objects.get(idp_slug="entra", outcome="refused").reason == "metadata_missing"
    assert client.get("/sso/nothing/metadata/").status_code == 404


def test_pasted_metadata_creates_the_idp_with_the_vendor_preset(
    admin_client, site, tmp_path, peer_keys
):
    connection = _create(admin_client)
    idp_peer = IdpPeer(tmp_path / "idp", key=peer_keys["idp-signing"])

    response = admin_client.post(
        f"/admin/users/connection/{connection.pk}/metadata/",
        {"metadata_xml": idp_peer.metadata_xml()},
    )

    assert response.status_code == 302
    idp = IdentityProvider.objects.get(slug="entra")
    assert idp.entity_id == idp_peer.entity_id
    assert idp.attribute_map["roles"] == [ENTRA_ROLE]
    event = AuditEvent.objects.get(action="sso.idp_created", target_id=str(idp.pk))
    assert event.actor_name == "root"
    assert 'class="done" id="check-metadata"' in _page(admin_client, connection)


def test_uploaded_metadata_is_imported_and_bad_metadata_is_refused_with_its_reason(
    admin_client, site, tmp_path, peer_keys
):
    connection = _create(admin_client, slug="acme", vendor="saml")
    idp_peer = IdpPeer(tmp_path / "idp", key=peer_keys["idp-signing"])
    url = f"/admin/users/connection/{connection.pk}/metadata/"

    bad = admin_client.post(url, {"metadata_xml": "<not-metadata/>"})
    empty = admin_client.post(url, {})
    upload = SimpleUploadedFile("idp.xml", idp_peer.metadata_xml().encode())
    good = admin_client.post(url, {"metadata_file": upload})

    assert bad.status_code == 400
    assert 'id="metadata-errors"' in bad.content.decode()
    assert "metadata" in bad.content.decode()
    assert empty.status_code == 400
    assert "paste it, upload the file or give its URL" in empty.content.decode()
    assert good.status_code == 302
    assert IdentityProvider.objects.filter(slug="acme").count() == 1


def test_a_scim_token_is_shown_once_bound_to_the_connection_and_ticks_on_use(admin_client, site):
    connection = _create(admin_client, slug="onelogin", vendor="onelogin")

    response = admin_client.post(f"/admin/users/connection/{connection.pk}/scim-token/")

    html = response.content.decode()
    raw = _value(html, "scim-token")
    assert raw.startswith("axscim_")
    assert "no-store" in response["Cache-Control"]
    assert raw not in str(response.cookies)
    token = ScimToken.objects.get(token_hash=token_hash(raw))
    assert (token.name, token.connection_id) == ("onelogin-scim-1", connection.pk)
    assert AuditEvent.objects.filter(action="scim_token.created", target_id=str(token.pk)).exists()
    assert raw not in _page(admin_client, connection)

    assert ScimClient(raw).get("/Users").status_code == 200
    assert 'class="done" id="check-scim"' in _page(admin_client, connection)


def test_the_first_login_ticks_the_checklist(client, peer, admin_user):
    connection = Connection.objects.get(slug=SLUG)
    assert 'class="todo" id="check-login"' in _page(_admin_browser(admin_user), connection)

    Browser(client, peer).login("ada@example.com")

    assert 'class="done" id="check-login"' in _page(_admin_browser(admin_user), connection)


def _admin_browser(admin_user):
    from django.test import Client

    other = Client()
    other.force_login(admin_user)
    return other


def test_staff_without_the_permission_and_anonymous_people_get_no_page(client, site):
    from users.models import User

    staff = User.objects.create_user("helper", "pw-not-used-1", email="h@example.com")
    staff.is_staff = True
    staff.save()
    connection = Connection.objects.create(slug="okta", vendor="okta")

    anonymous = client.get(f"/admin/users/connection/{connection.pk}/change/")
    client.force_login(staff)
    forbidden = client.post(f"/admin/users/connection/{connection.pk}/scim-token/")

    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]
    assert forbidden.status_code == 403
    assert not ScimToken.objects.exists()


def test_a_connection_cannot_be_deleted_in_admin(admin_client):
    connection = Connection.objects.create(slug="okta", vendor="okta")

    response = admin_client.post(
        f"/admin/users/connection/{connection.pk}/delete/", {"post": "yes"}
    )

    assert response.status_code == 403
    assert Connection.objects.filter(pk=connection.pk).exists()
