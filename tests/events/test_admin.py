"""Admin: an events token's value and a webhook secret are shown once, on the page
that answers the creating POST, never in a cookie; the endpoint and log actions."""

from __future__ import annotations

import hashlib
import re

import pytest

from events.models import DeliveryOutcome, EventsToken, WebhookDelivery, WebhookEndpoint
from tests.scim.test_admin import _cookie_texts

pytestmark = pytest.mark.django_db


def test_an_events_token_made_in_admin_is_shown_once(admin_client):
    response = admin_client.post("/admin/events/eventstoken/add/", {"name": "search"})

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    raw = re.search(r"(axevt_[A-Za-z0-9_-]+)", response.content.decode()).group(1)
    token = EventsToken.objects.get(name="search")
    assert hashlib.sha256(raw.encode()).hexdigest() == token.token_hash
    assert not any("axevt_" in text for text in _cookie_texts(response))
    assert (
        raw
        not in admin_client.get(f"/admin/events/eventstoken/{token.pk}/change/").content.decode()
    )


def test_a_webhook_secret_made_in_admin_is_shown_once(admin_client):
    response = admin_client.post(
        "/admin/events/webhookendpoint/add/",
        {"url": "https://hooks.example.com/x", "events": "user.created", "description": ""},
    )

    assert response.status_code == 200, response.content
    secret = re.search(r"(whsec_[A-Za-z0-9+/=]+)", response.content.decode()).group(1)
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret == secret
    assert endpoint.event_types == ["user.created"]
    assert not any("whsec_" in text for text in _cookie_texts(response))
    change = admin_client.get(f"/admin/events/webhookendpoint/{endpoint.pk}/change/")
    assert secret not in change.content.decode()


def test_a_bad_url_or_type_is_a_form_error_not_a_500(admin_client):
    response = admin_client.post(
        "/admin/events/webhookendpoint/add/",
        {"url": "ftp://hooks.example.com/x", "events": "user.exploded"},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "unknown type(s) user.exploded" in page
    assert WebhookEndpoint.objects.count() == 0


def test_send_test_event_and_resend_actions(admin_client, endpoint, receiver):
    hook, _ = endpoint
    admin_client.post(
        "/admin/events/webhookendpoint/",
        {"action": "send_test_event", "_selected_action": [hook.pk]},
    )
    (test,) = WebhookDelivery.objects.all()
    assert (test.event_type, test.outcome, test.response_status) == (
        "webhook.test",
        "delivered",
        200,
    )
    admin_client.post(
        "/admin/events/webhookdelivery/", {"action": "resend", "_selected_action": [test.pk]}
    )
    assert WebhookDelivery.objects.filter(outcome=DeliveryOutcome.DELIVERED).count() == 2
    assert len(receiver.received) == 2
    listing = admin_client.get("/admin/events/webhookendpoint/").content.decode()
    assert "ok" in listing


def test_the_dashboard_names_a_disabled_endpoint(admin_client):
    from django.utils import timezone

    endpoint = WebhookEndpoint.objects.create(
        url="https://hooks.example.com/x",
        secret="whsec_AAAA",
        active=False,
        disabled_at=timezone.now(),
        disabled_reason="failing since 2026-12-05 10:00 UTC",
    )
    page = admin_client.get("/admin/").content.decode()
    assert "Webhook endpoints needing attention" in page
    assert f"/admin/events/webhookendpoint/{endpoint.pk}/change/" in page
    assert "failing since 2026-12-05 10:00 UTC" in page
