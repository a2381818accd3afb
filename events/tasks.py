"""Thin Celery tasks: they take ids, are safe to run twice, and call events' services."""

from __future__ import annotations

import logging

from celery import shared_task

from events.delivery import endpoints_due, retry_delay, webhook_endpoint_deliver
from events.pruning import events_prune_expired
from events.sequencing import events_stamp
from events.webhooks import webhook_delivery_get, webhook_delivery_resend, webhook_test_send

logger = logging.getLogger(__name__)


@shared_task(time_limit=120, soft_time_limit=100)
def events_dispatch() -> int:
    """Stamp committed events and queue a delivery per endpoint with something due
    (after commits, and every minute from beat: the catch-up when a broker was down)."""
    events_stamp()
    due = endpoints_due()
    for endpoint_id in due:
        webhook_deliver.delay(endpoint_id)
    return len(due)


@shared_task(time_limit=120, soft_time_limit=100)
def webhook_deliver(endpoint_id: int) -> str:
    """Deliver an endpoint's pending events in order; queue itself again when more wait."""
    outcome = webhook_endpoint_deliver(endpoint_id)
    try:
        if outcome == "delivered":
            webhook_deliver.delay(endpoint_id)
        elif outcome == "failed":
            # The retry when the backoff ends; beat's dispatch would also find it due.
            webhook_deliver.apply_async((endpoint_id,), countdown=retry_delay(endpoint_id))
    except Exception:
        logger.warning("could not queue webhook delivery; beat will pick it up", exc_info=True)
    return outcome


@shared_task(time_limit=60, soft_time_limit=50)
def webhook_delivery_resend_task(delivery_id: int) -> str:
    """The admin's "resend": the logged message again, as it was."""
    return webhook_delivery_resend(delivery=webhook_delivery_get(delivery_id)).outcome


@shared_task(time_limit=60, soft_time_limit=50)
def webhook_test_send_task(endpoint_id: int) -> str:
    """The admin's "send test event"."""
    from events.models import WebhookEndpoint

    endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id).first()
    if endpoint is None:
        return "gone"
    return webhook_test_send(endpoint=endpoint).outcome


@shared_task(time_limit=600, soft_time_limit=570)
def events_prune() -> int:
    """Drop events (and delivery log rows) past the retention period."""
    return events_prune_expired()
