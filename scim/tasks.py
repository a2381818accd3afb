"""Celery tasks of the SCIM app."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from scim.models import ScimRequestLog
from scim.requestlog import request_log_buffer_drain

PRUNE_BATCH = 5000


@shared_task(acks_late=True, time_limit=300, soft_time_limit=280)
def request_log_prune() -> int:
    """Delete request log rows older than SCIM_REQUEST_LOG_RETENTION_DAYS; safe to repeat."""
    days = int(getattr(settings, "SCIM_REQUEST_LOG_RETENTION_DAYS", 30))
    cutoff = timezone.now() - dt.timedelta(days=days)
    deleted = 0
    # In batches, so a large backlog never holds one long lock on the table.
    while True:
        ids = list(
            ScimRequestLog.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[
                :PRUNE_BATCH
            ]
        )
        if not ids:
            return deleted
        deleted += ScimRequestLog.objects.filter(pk__in=ids).delete()[0]


@shared_task(acks_late=True, time_limit=120, soft_time_limit=100)
def request_log_drain() -> int:
    """Write the request log rows buffered in Redis (queued by requests; and every minute)."""
    return request_log_buffer_drain()
