"""Delivering the outbox to webhook endpoints: in order, at least once.

Each endpoint has a cursor: the position of the last event it acknowledged with a 2xx.
A delivery locks the endpoint's row (SKIP LOCKED: one delivery per endpoint at a time,
so messages go out in order), posts the next message, and in the same transaction logs
the attempt and moves the cursor. A worker that dies mid-delivery rolls all of that
back, and the message goes again with the same webhook-id. A failure moves nothing:
the endpoint waits (exponential backoff, 5 s doubling up to an hour) and the same
message is tried again; an endpoint failing for a day is disabled.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any, Final

from django.conf import settings
from django.db import transaction
from django.db.models import Subquery
from django.utils import timezone

from axero_idp.safe_fetch import FetchFailed, FetchPolicy, FetchRefused, safe_post
from events.models import DeliveryOutcome, Event, WebhookDelivery, WebhookEndpoint
from events.representation import data_rendered
from events.signing import signed_headers
from users.models import CustomField
from users.selectors import LazyCustomFields

logger = logging.getLogger(__name__)

BATCH_SIZE: Final = 100
FAILING_FOR: Final = dt.timedelta(days=1)
BACKOFF_FIRST: Final = 5.0
BACKOFF_MAX: Final = 3600.0
# A delivery task sends for at most this long, then queues itself again, so one busy
# endpoint does not hold a worker against the others.
RUN_BUDGET: Final = 20.0


def webhook_policy() -> FetchPolicy:
    return FetchPolicy(
        label="webhook URL",
        allow_private=bool(settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS),
        schemes=frozenset({"http", "https"}),
        max_bytes=4096,  # of the receiver's answer: only its start is kept, for the log
        connect_timeout=5.0,
        read_timeout=10.0,
        deadline=15.0,
    )


def event_payload(
    event: Event, custom_fields: Mapping[str, CustomField] | None = None
) -> dict[str, Any]:
    """An event as the feed and webhooks show it (pass one LazyCustomFields per page)."""
    return {
        "id": event.public_id,
        "type": event.type,
        "created_at": event.created_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "data": data_rendered(event.data, custom_fields),
    }


@dataclasses.dataclass(frozen=True)
class Message:
    id: str
    event_type: str
    body: bytes
    event_ids: list[int]


def message_for(events: Sequence[Event], *, batch: bool) -> Message:
    """One event as an object, or (batching endpoints) a JSON list of them; a batch's id
    names its first and last event, so a retry of the same batch keeps it."""
    custom_fields = LazyCustomFields()
    payloads = [event_payload(e, custom_fields) for e in events]
    body = json.dumps(payloads if batch else payloads[0], separators=(",", ":")).encode()
    if batch:
        message_id = f"msg_{events[0].pk:019d}_{events[-1].pk:019d}"
        event_type = events[0].type if len({e.type for e in events}) == 1 else "batch"
    else:
        message_id, event_type = events[0].public_id, events[0].type
    return Message(message_id, event_type, body, [e.pk for e in events])


@dataclasses.dataclass(frozen=True)
class Attempt:
    ok: bool
    status: int | None
    latency_ms: int
    error: str = ""


def message_send(endpoint: WebhookEndpoint, message: Message) -> Attempt:
    """POST the signed message; a 2xx is success, anything else a failure."""
    headers = signed_headers(endpoint.secret, message.id, int(time.time()), message.body)
    started = time.monotonic()
    try:
        posted = safe_post(endpoint.url, webhook_policy(), body=message.body, headers=headers)
    except (FetchRefused, FetchFailed) as exc:
        return Attempt(False, None, _since(started), exc.detail[:300])
    ok = 200 <= posted.status < 300
    return Attempt(ok, posted.status, _since(started), "" if ok else f"HTTP {posted.status}")


def _since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def delivery_log(endpoint: WebhookEndpoint, message: Message, attempt: Attempt) -> WebhookDelivery:
    return WebhookDelivery.objects.create(
        endpoint=endpoint,
        message_id=message.id,
        event_type=message.event_type,
        event_ids=message.event_ids,
        outcome=DeliveryOutcome.DELIVERED if attempt.ok else DeliveryOutcome.FAILED,
        response_status=attempt.status,
        latency_ms=attempt.latency_ms,
        error=attempt.error,
    )


def pending_events(endpoint: WebhookEndpoint, limit: int) -> list[Event]:
    """The next events for endpoint, in commit order (keyset on position)."""
    events = Event.objects.filter(position__gt=endpoint.cursor)
    if endpoint.event_types:
        events = events.filter(type__in=endpoint.event_types)
    return list(events.order_by("position")[:limit])


def backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(BACKOFF_FIRST * 2 ** max(attempts - 1, 0), BACKOFF_MAX))


def _advance(endpoint: WebhookEndpoint, position: int) -> None:
    endpoint.cursor = position
    endpoint.attempts, endpoint.failing_since, endpoint.next_attempt_at = 0, None, None
    endpoint.save(update_fields=["cursor", "attempts", "failing_since", "next_attempt_at"])


def _fail(endpoint: WebhookEndpoint, attempt: Attempt) -> None:
    now = timezone.now()
    endpoint.attempts += 1
    endpoint.failing_since = endpoint.failing_since or now
    endpoint.next_attempt_at = now + backoff(endpoint.attempts)
    if now - endpoint.failing_since >= FAILING_FOR:
        endpoint.active = False
        endpoint.disabled_at = now
        endpoint.disabled_reason = f"failing since {endpoint.failing_since:%Y-%m-%d %H:%M} UTC"
        logger.warning("webhook endpoint %s disabled after a day of failures", endpoint.pk)
    endpoint.save(
        update_fields=[
            "attempts",
            "failing_since",
            "next_attempt_at",
            "active",
            "disabled_at",
            "disabled_reason",
        ]
    )


def _deliver_next(endpoint_id: int) -> str:
    """Send the endpoint's next message: "delivered", "failed", "idle", "waiting" or
    "busy" (another delivery holds it, or it is off)."""
    with transaction.atomic():
        endpoint = (
            WebhookEndpoint.objects.select_for_update(skip_locked=True)
            .filter(pk=endpoint_id, active=True)
            .first()
        )
        if endpoint is None:
            return "busy"
        if endpoint.next_attempt_at is not None and endpoint.next_attempt_at > timezone.now():
            return "waiting"
        events = pending_events(endpoint, BATCH_SIZE if endpoint.batch else 1)
        if not events:
            return "idle"
        message = message_for(events, batch=endpoint.batch)
        attempt = message_send(endpoint, message)
        delivery_log(endpoint, message, attempt)
        if attempt.ok:
            _advance(endpoint, events[-1].position or 0)
            return "delivered"
        _fail(endpoint, attempt)
        return "failed"


def webhook_endpoint_deliver(endpoint_id: int) -> str:
    """Deliver what the endpoint has not acknowledged, in order, for at most RUN_BUDGET
    seconds; returns the last step's outcome ("delivered" means there may be more)."""
    deadline = time.monotonic() + RUN_BUDGET
    step = "idle"
    while time.monotonic() < deadline:
        step = _deliver_next(endpoint_id)
        if step != "delivered":
            return step
    return step


def endpoints_due() -> list[int]:
    """Active endpoints with events past their cursor and no backoff running."""
    top = Event.objects.exclude(position=None).order_by("-position").values("position")[:1]
    now = timezone.now()
    due = WebhookEndpoint.objects.filter(active=True, cursor__lt=Subquery(top))
    due = due.exclude(next_attempt_at__gt=now)
    return list(due.values_list("pk", flat=True))


def retry_delay(endpoint_id: int) -> float:
    """Seconds until the endpoint's backoff ends (0 when it is not waiting)."""
    endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id).values("next_attempt_at").first()
    if endpoint is None or endpoint["next_attempt_at"] is None:
        return 0.0
    return max((endpoint["next_attempt_at"] - timezone.now()).total_seconds(), 0.0)
