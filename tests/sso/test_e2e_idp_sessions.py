"""Turning an identity provider off, or deleting it, ends every session it opened
(issue 8, finding 19): a compromised or retired IdP must not keep anyone signed in."""

from __future__ import annotations

import json

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from sso.models import IdentityProvider, SamlSession
from tests.sso.conftest import SLUG, Browser
from users.models import AuditEvent

pytestmark = pytest.mark.django_db

ME = "/api/v1/me/"
PEOPLE = ("ann@example.com", "bob@example.com")


@pytest.fixture
def signed_in(peer) -> list[tuple[Client, str]]:
    """Two people signed in through the IdP, each with their own browser."""
    out = []
    for name_id in PEOPLE:
        client = Client()
        assert Browser(client, peer).login(name_id).status_code == 200
        out.append((client, client.session.session_key))
    return out


def _change_form(idp: IdentityProvider, **changes: object) -> dict[str, object]:
    """The admin change form as the browser posts it (a missing checkbox is False)."""
    data: dict[str, object] = {
        "slug": idp.slug,
        "name": idp.name,
        "entity_id": idp.entity_id,
        "sso_url": idp.sso_url,
        "sso_binding": idp.sso_binding,
        "slo_url": idp.slo_url,
        "signing_certificates": json.dumps(idp.signing_certificates),
        "attribute_map": json.dumps(idp.attribute_map),
        "clock_skew_seconds": idp.clock_skew_seconds,
        "metadata_url": idp.metadata_url,
        "link_key": idp.link_key,
        "attribute_precedence": idp.attribute_precedence,
        "want_assertions_signed": "on",
        "jit_create": "on",
        "is_active": "on",
    }
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return data


def _all_ended(signed_in: list[tuple[Client, str]]) -> bool:
    keys = [key for _, key in signed_in]
    return not Session.objects.filter(session_key__in=keys).exists() and all(
        client.get(ME).status_code == 401 for client, _ in signed_in
    )


def _logout_events(cause: str) -> list[dict]:
    return [
        event.detail
        for event in AuditEvent.objects.filter(action="saml.logout").order_by("id")
        if event.detail.get("initiated_by") == cause
    ]


def test_deactivating_the_idp_in_admin_ends_every_session_it_opened(signed_in, admin_client):
    idp = IdentityProvider.objects.get(slug=SLUG)

    response = admin_client.post(
        f"/admin/sso/identityprovider/{idp.pk}/change/", _change_form(idp, is_active=None)
    )

    assert response.status_code == 302, response.content[:2000]
    idp.refresh_from_db()
    assert idp.is_active is False
    assert _all_ended(signed_in)
    assert not SamlSession.objects.exists()
    assert [e["sessions_ended"] for e in _logout_events("idp_deactivated")] == [1, 1]
    event = AuditEvent.objects.get(action="sso.idp_deactivated")
    assert event.actor_kind == "admin"
    assert event.detail == {"sessions_ended": 2}
    assert admin_client.get("/admin/").status_code == 200  # not a SAML session


def test_an_admin_edit_that_keeps_the_idp_active_ends_nothing(signed_in, admin_client):
    idp = IdentityProvider.objects.get(slug=SLUG)

    response = admin_client.post(
        f"/admin/sso/identityprovider/{idp.pk}/change/", _change_form(idp, name="Renamed")
    )

    assert response.status_code == 302, response.content[:2000]
    assert all(client.get(ME).status_code == 200 for client, _ in signed_in)
    assert not AuditEvent.objects.filter(action="sso.idp_deactivated").exists()


def test_deleting_the_idp_in_admin_ends_every_session_it_opened(signed_in, admin_client):
    idp = IdentityProvider.objects.get(slug=SLUG)

    response = admin_client.post(f"/admin/sso/identityprovider/{idp.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not IdentityProvider.objects.exists()
    assert _all_ended(signed_in)
    assert len(_logout_events("idp_deleted")) == 2
    event = AuditEvent.objects.get(action="sso.idp_deleted")
    assert event.detail["slug"] == SLUG
    assert event.detail["sessions_ended"] == 2


def test_deleting_idps_with_the_bulk_action_ends_their_sessions(signed_in, admin_client):
    idp = IdentityProvider.objects.get(slug=SLUG)

    response = admin_client.post(
        "/admin/sso/identityprovider/",
        {"action": "delete_selected", "_selected_action": [idp.pk], "post": "yes"},
    )

    assert response.status_code == 302
    assert not IdentityProvider.objects.exists()
    assert _all_ended(signed_in)
    assert AuditEvent.objects.filter(action="sso.idp_deleted").count() == 1
