"""Admin: a token's raw value is shown once; the request log is read-only and filterable."""

from __future__ import annotations

import hashlib
import re

import pytest
from django.contrib.messages.storage.cookie import CookieStorage
from django.http import HttpRequest

from scim.models import ScimRequestLog, ScimToken

pytestmark = pytest.mark.django_db


def test_creating_a_token_in_admin_shows_the_raw_value_once(admin_client):
    response = admin_client.post("/admin/scim/scimtoken/add/", {"name": "from-admin"}, follow=True)

    token = ScimToken.objects.get(name="from-admin")
    page = response.content.decode()
    raw = re.search(r"(axscim_[A-Za-z0-9_-]+)", page).group(1)
    assert hashlib.sha256(raw.encode()).hexdigest() == token.token_hash
    change_page = admin_client.get(f"/admin/scim/scimtoken/{token.pk}/change/").content.decode()
    assert raw not in change_page
    assert token.token_hash not in change_page


def _cookie_texts(response) -> list[str]:
    """Every Set-Cookie of a response, and the messages cookie decoded (it is signed
    and compressed, so a token in it would not show literally)."""
    texts = []
    for name, morsel in response.cookies.items():
        texts.append(morsel.OutputString())
        if name == CookieStorage.cookie_name and morsel.value:
            decoded = CookieStorage(HttpRequest())._decode(morsel.value) or []
            texts.extend(str(message) for message in decoded)
    return texts


def test_the_raw_token_never_travels_in_a_cookie(admin_client):
    # The default message storage is a cookie: the raw token must not be a message.
    response = admin_client.post("/admin/scim/scimtoken/add/", {"name": "cookie-check"})

    cookies = _cookie_texts(response)
    assert not any("axscim_" in text for text in cookies), cookies
    assert response.status_code == 200
    raw = re.search(r"(axscim_[A-Za-z0-9_-]+)", response.content.decode()).group(1)
    token = ScimToken.objects.get(name="cookie-check")
    assert hashlib.sha256(raw.encode()).hexdigest() == token.token_hash
    assert "no-store" in response["Cache-Control"]
    assert raw not in admin_client.get("/admin/scim/scimtoken/").content.decode()


def test_revoke_action(admin_client):
    admin_client.post("/admin/scim/scimtoken/add/", {"name": "to-revoke"})
    token = ScimToken.objects.get(name="to-revoke")

    admin_client.post(
        "/admin/scim/scimtoken/", {"action": "revoke", "_selected_action": [token.pk]}
    )

    token.refresh_from_db()
    assert token.revoked_at is not None


def test_request_log_is_listed_filtered_and_read_only(admin_client, scim):
    scim.get("/Users")
    scim.get("/Users?filter=nonsense")
    entry = ScimRequestLog.objects.get(status=400)

    listing = admin_client.get("/admin/scim/scimrequestlog/?status__exact=400&q=nonsense")
    detail = admin_client.get(f"/admin/scim/scimrequestlog/{entry.pk}/change/")
    add = admin_client.get("/admin/scim/scimrequestlog/add/")

    assert listing.status_code == 200
    assert "nonsense" in listing.content.decode()
    assert detail.status_code == 200
    assert add.status_code == 403
    assert 'name="_save"' not in detail.content.decode()
