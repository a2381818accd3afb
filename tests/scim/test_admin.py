"""Admin: a token's raw value is shown once; the request log is read-only and filterable."""

from __future__ import annotations

import hashlib
import re

import pytest

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
