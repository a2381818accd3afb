"""Webhook endpoints: adding, changing, and the admin actions (resend, test event).

These write events' own tables, so they live here; each records an audit event.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets

from django.db import transaction
from django.utils import timezone

from axero_idp.errors import NotFound, ValidationFailed
from axero_idp.safe_fetch import FetchRefused, url_check
from events.catalogue import WEBHOOK_TEST, event_types_clean
from events.delivery import Message, delivery_log, message_for, message_send, webhook_policy
from events.models import Event, WebhookDelivery, WebhookEndpoint
from events.sequencing import events_stamp
from events.signing import secret_generate
from users.services import Actor, audit_record


def webhook_url_clean(url: str) -> str:
    """An http(s) URL the delivery client would accept (its address is checked again
    at each delivery: DNS answers change)."""
    url = (url or "").strip()
    if not url or len(url) > 2000:
        raise ValidationFailed("url: required, at most 2000 characters")
    try:
        url_check(url, webhook_policy())
    except FetchRefused as exc:
        raise ValidationFailed(f"url: {exc.detail}") from exc
    return url


def _top_position() -> int:
    # Committed events not yet stamped are older than the endpoint: stamp them first.
    events_stamp()
    top = Event.objects.exclude(position=None).order_by("-position").first()
    return top.position or 0 if top is not None else 0


@transaction.atomic
def webhook_endpoint_add(
    *,
    url: str,
    actor: Actor,
    event_types: str | list[str] | None = None,
    batch: bool = False,
    description: str = "",
) -> tuple[WebhookEndpoint, str]:
    """Add an endpoint; returns it and its signing secret (shown once). It receives the
    events committed from now on."""
    endpoint = WebhookEndpoint.objects.create(
        url=webhook_url_clean(url),
        event_types=event_types_clean(event_types),
        batch=batch,
        description=description[:200],
        secret=secret_generate(),
        cursor=_top_position(),
    )
    audit_record(
        actor=actor,
        action="webhook.created",
        target=endpoint,
        target_type="webhook",
        detail={"url": endpoint.url, "events": endpoint.event_types, "batch": batch},
    )
    return endpoint, endpoint.secret


@transaction.atomic
def webhook_endpoint_enable(*, endpoint: WebhookEndpoint, actor: Actor) -> WebhookEndpoint:
    """Turn a (disabled) endpoint on again: its failure count starts over."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        active=True,
        disabled_at=None,
        disabled_reason="",
        failing_since=None,
        attempts=0,
        next_attempt_at=None,
    )
    audit_record(actor=actor, action="webhook.enabled", target=endpoint, target_type="webhook")
    endpoint.refresh_from_db()
    return endpoint


def webhook_delivery_get(delivery_id: int) -> WebhookDelivery:
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None:
        raise NotFound(f"no delivery {delivery_id}")
    return delivery


def webhook_delivery_resend(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a logged message again, as it was (same webhook-id), outside the endpoint's
    order; its events must still be retained."""
    endpoint = delivery.endpoint
    if delivery.event_type == WEBHOOK_TEST or not delivery.event_ids:
        return webhook_test_send(endpoint=endpoint)
    events = list(Event.objects.filter(pk__in=delivery.event_ids).order_by("position", "pk"))
    if len(events) != len(delivery.event_ids):
        raise NotFound("the events of this delivery are no longer retained")
    message = message_for(events, batch=delivery.message_id.startswith("msg_"))
    return delivery_log(endpoint, message, message_send(endpoint, message))


def webhook_test_send(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Send a `webhook.test` event (never in the outbox) and log the attempt."""
    payload = {
        "id": f"evt_test_{secrets.token_hex(8)}",
        "type": WEBHOOK_TEST,
        "created_at": timezone.now().astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "data": {"endpoint": endpoint.pk},
    }
    body = json.dumps([payload] if endpoint.batch else payload, separators=(",", ":")).encode()
    message = Message(str(payload["id"]), WEBHOOK_TEST, body, [])
    return delivery_log(endpoint, message, message_send(endpoint, message))


@transaction.atomic
def webhook_endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    actor: Actor,
    url: str,
    event_types: str | list[str] | None,
    batch: bool,
    description: str = "",
) -> WebhookEndpoint:
    """Change where and what an endpoint receives (its secret and cursor stay)."""
    changes = {
        "url": webhook_url_clean(url),
        "event_types": event_types_clean(event_types),
        "batch": batch,
        "description": description[:200],
    }
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(**changes)
    audit_record(
        actor=actor,
        action="webhook.updated",
        target=endpoint,
        target_type="webhook",
        detail={k: v for k, v in changes.items() if k != "description"},
    )
    endpoint.refresh_from_db()
    return endpoint


@transaction.atomic
def webhook_endpoint_disable(*, endpoint: WebhookEndpoint, actor: Actor) -> WebhookEndpoint:
    """Stop deliveries to an endpoint (its events wait at its cursor)."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        active=False, disabled_at=timezone.now(), disabled_reason=f"disabled by {actor.name}"
    )
    audit_record(actor=actor, action="webhook.disabled", target=endpoint, target_type="webhook")
    endpoint.refresh_from_db()
    return endpoint
