"""Setup links (issue 12, item 2): the customer's IT admin, without an account, opens a
time-limited, revocable, single-person link for one connection, sees its values,
imports the IdP metadata and runs a test login; every action is audited with the link
as actor. Performed with the pysaml2 IdP against the real endpoints."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.utils import timezone

from sso.models import IdentityProvider
from tests.sso.conftest import SLUG, Browser
from tests.sso.idp_peer import IdpPeer, post_form
from users.models import AuditEvent, Connection, SetupLink, User
from users.services.setup_links import _digest

pytestmark = pytest.mark.django_db


def _create_link(admin_client, connection: Connection) -> str:
    response = admin_client.post(f"/admin/users/connection/{connection.pk}/setup-link/")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    match = re.search(
        r'id="setup-link-url" value="http://testserver(/setup/axsetup_[^"]+/)"',
        response.content.decode(),
    )
    assert match
    return match.group(1)


def _open(path: str) -> Client:
    browser = Client()
    response = browser.get(path)
    assert response.status_code == 302 and response["Location"] == "/setup/"
    assert response["Referrer-Policy"] == "no-referrer"
    return browser


def test_an_admin_creates_a_link_shown_once_and_only_its_hash_is_kept(admin_client, site):
    connection = Connection.objects.create(slug="acme", vendor="okta")

    path = _create_link(admin_client, connection)

    raw = path.split("/")[2]
    link = SetupLink.objects.get()
    assert link.token_hash == _digest(raw) and raw not in (link.prefix + link.token_hash)
    assert link.expires_at - timezone.now() > dt.timedelta(days=6, hours=23)
    event = AuditEvent.objects.get(action="setup_link.created")
    assert (event.actor_kind, event.actor_name, event.detail["connection"]) == (
        "admin",
        "root",
        "acme",
    )
    page = admin_client.get(f"/admin/users/connection/{connection.pk}/change/").content.decode()
    assert raw not in page and "not opened yet" in page


def test_the_it_admin_sees_the_values_and_imports_metadata_without_an_account(
    admin_client, site, tmp_path, peer_keys
):
    connection = Connection.objects.create(slug="acme", vendor="okta")
    it_admin = _open(_create_link(admin_client, connection))
    idp_peer = IdpPeer(tmp_path / "idp", key=peer_keys["idp-signing"])

    page = it_admin.get("/setup/")
    imported = it_admin.post("/setup/metadata/", {"metadata_xml": idp_peer.metadata_xml()})

    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="value-acs" value="http://testserver/sso/acme/acs/"' in html
    assert "Steps in Okta" in html
    # This page creates no SCIM token: the steps say where the token comes from.
    assert "created below" not in html and "a SCIM token from the intranet" in html
    assert "_auth_user_id" not in it_admin.session
    assert imported.status_code == 302
    idp = IdentityProvider.objects.get(slug="acme")
    opened = AuditEvent.objects.get(action="setup_link.opened")
    created = AuditEvent.objects.get(action="sso.idp_created", target_id=str(idp.pk))
    link = SetupLink.objects.get()
    assert opened.actor_kind == created.actor_kind == "setup_link"
    assert created.actor_name == f"{link.prefix} (acme)"


def test_a_second_browser_is_refused(admin_client, site):
    connection = Connection.objects.create(slug="acme")
    path = _create_link(admin_client, connection)
    first = _open(path)

    second = Client().get(path)

    assert second.status_code == 403
    assert "already in use in another browser" in second.content.decode()
    assert first.get("/setup/").status_code == 200
    assert first.get(path).status_code == 302  # the same browser may open it again


def test_revoked_and_expired_links_stop_at_once(admin_client, site):
    connection = Connection.objects.create(slug="acme")
    it_admin = _open(_create_link(admin_client, connection))
    link = SetupLink.objects.get()

    revoke = admin_client.post(
        f"/admin/users/connection/{connection.pk}/setup-link/{link.pk}/revoke/"
    )
    revoked = it_admin.get("/setup/")
    expired_path = _create_link(admin_client, connection)
    SetupLink.objects.filter(revoked_at__isnull=True).update(expires_at=timezone.now())
    expired = Client().get(expired_path)

    assert revoke.status_code == 302
    assert AuditEvent.objects.filter(action="setup_link.revoked").count() == 1
    assert revoked.status_code == 403 and "was revoked" in revoked.content.decode()
    assert it_admin.post("/setup/metadata/", {"metadata_xml": "x"}).status_code == 403
    assert expired.status_code == 403 and "has expired" in expired.content.decode()
    assert Client().get("/setup/").status_code == 404
    assert Client().get("/setup/axsetup_guess/").status_code == 404


def test_the_it_admin_runs_a_test_login_audited_with_the_link(admin_client, peer):
    it_admin = _open(_create_link(admin_client, Connection.objects.get(slug=SLUG)))
    users = User.objects.count()

    started = it_admin.post("/setup/test-login/")
    request = peer.authn_request_read(started["Location"])
    xml = peer.response_xml(
        name_id="ada@example.com",
        attributes={"User.email": "ada@example.com"},
        in_response_to=request.id,
    )
    result = it_admin.post(f"/sso/{SLUG}/acs/", post_form(xml, request.relay_state), follow=True)

    html = result.content.decode()
    assert "Would create the account <code>ada@example.com</code>" in html
    assert 'href="/setup/"' in html
    assert User.objects.count() == users
    events = AuditEvent.objects.filter(action__startswith="saml.test_login")
    assert {e.actor_kind for e in events} == {"setup_link"}
    assert events.count() == 2


def test_the_setup_forms_are_csrf_checked(admin_client, site):
    connection = Connection.objects.create(slug="acme")
    path = _create_link(admin_client, connection)
    browser = Client(enforce_csrf_checks=True)
    assert browser.get(path).status_code == 302

    assert browser.post("/setup/metadata/", {"metadata_xml": "x"}).status_code == 403
    assert browser.post("/setup/test-login/").status_code == 403


def test_a_live_connection_s_metadata_cannot_be_swapped_through_a_link(client, peer, admin_user):
    admin = Client()
    admin.force_login(admin_user)
    it_admin = _open(_create_link(admin, Connection.objects.get(slug=SLUG)))
    Browser(client, peer).login("ada@example.com")
    certificates = IdentityProvider.objects.get(slug=SLUG).signing_certificates
    attacker = IdpPeer(
        peer.directory.parent / "attacker", key=peer.key, entity_id="https://evil.example/idp"
    )

    response = it_admin.post("/setup/metadata/", {"metadata_xml": attacker.metadata_xml()})

    assert response.status_code == 403
    assert "only an administrator may change its metadata" in response.content.decode()
    idp = IdentityProvider.objects.get(slug=SLUG)
    assert idp.signing_certificates == certificates and idp.entity_id != "https://evil.example/idp"
