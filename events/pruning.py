"""Retention: events and delivery log rows older than EVENTS_RETENTION_DAYS go."""

from __future__ import annotations

import datetime as dt
from typing import Final

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from events.models import Event, WebhookDelivery

CHUNK: Final = 10_000


def _delete_in_chunks(queryset: object) -> int:
    """Delete in id chunks: no transaction holds millions of row locks."""
    from django.db.models import QuerySet

    assert isinstance(queryset, QuerySet)
    removed = 0
    while True:
        ids = list(queryset.order_by("pk").values_list("pk", flat=True)[:CHUNK])
        if not ids:
            return removed
        removed += queryset.model.objects.filter(pk__in=ids).delete()[0]


def events_prune_expired() -> int:
    """Delete expired events, keeping the newest stamped one (the top position the
    sequencer continues from) and any not yet stamped; returns how many went."""
    cutoff = timezone.now() - dt.timedelta(days=settings.EVENTS_RETENTION_DAYS)
    top = Event.objects.aggregate(top=Max("position"))["top"]
    if top is None:
        return 0
    expired = Event.objects.filter(created_at__lt=cutoff, position__lt=top)
    removed = _delete_in_chunks(expired)
    _delete_in_chunks(WebhookDelivery.objects.filter(created_at__lt=cutoff))
    return removed
