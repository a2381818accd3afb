"""The directory's events outbox, the tokens that read its feed, and webhook endpoints.

An Event row is written in the transaction of the change it describes (users.events'
in-transaction listeners, personas' membership sinks), so it commits or rolls back
with it. `id` orders the rows of one transaction; `position` is the commit order,
stamped after commit by one sequencer at a time (events.sequencing): a reader that has
seen position N never later finds a row below N, which a bigint id alone cannot promise
(a transaction may commit after one that took a higher id).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone


class Event(models.Model):
    id = models.BigAutoField(primary_key=True)
    position = models.BigIntegerField(null=True, blank=True, unique=True, editable=False)
    type = models.CharField(max_length=40)
    created_at = models.DateTimeField(default=timezone.now)
    actor_kind = models.CharField(max_length=16, blank=True)
    data = models.JSONField()

    class Meta:
        ordering = ["position", "id"]
        indexes = [
            # The sequencer reads only what it has not stamped yet.
            models.Index(
                fields=["id"], condition=Q(position__isnull=True), name="events_unstamped"
            ),
            # A feed filtered by type: keyset on position within each type.
            models.Index(fields=["type", "position"], name="events_type_position"),
            models.Index(fields=["created_at"], name="events_created_at"),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.type}"

    @property
    def public_id(self) -> str:
        return event_public_id(self.pk)


def event_public_id(pk: int) -> str:
    """evt_ and 19 digits: sorts as text the way the ids sort as numbers."""
    return f"evt_{pk:019d}"


class EventsToken(models.Model):
    """A bearer token that reads the events feed, and nothing else. Only a SHA-256 hash
    is stored; the raw value is shown once, at creation."""

    name = models.CharField(max_length=100, unique=True)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=16, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = "events token"

    def __str__(self) -> str:
        return self.name


class WebhookEndpoint(models.Model):
    """A URL that receives the directory's events, signed the Standard Webhooks way."""

    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    # whsec_<base64>; shown once at creation. Kept (not hashed): signing needs it.
    secret = models.CharField(max_length=100, editable=False)
    # Empty: every type.
    event_types = models.JSONField(default=list, blank=True)
    active = models.BooleanField(default=True)
    batch = models.BooleanField(
        default=False, help_text="Send up to 100 events per request, as a JSON list."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Delivered (acknowledged with a 2xx) up to this event position.
    cursor = models.BigIntegerField(default=0, editable=False)
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    attempts = models.PositiveIntegerField(default=0, editable=False)
    next_attempt_at = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_at = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_reason = models.CharField(max_length=200, blank=True, editable=False)

    class Meta:
        ordering = ["pk"]
        verbose_name = "webhook endpoint"

    def __str__(self) -> str:
        return self.url


class DeliveryOutcome(models.TextChoices):
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """One attempt to deliver one message (an event, or a batch of them)."""

    id = models.BigAutoField(primary_key=True)
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    message_id = models.CharField(max_length=80)
    event_type = models.CharField(max_length=40)
    # The outbox ids the message carried (empty for a test event).
    event_ids = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    outcome = models.CharField(max_length=10, choices=DeliveryOutcome.choices)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["endpoint", "-id"], name="webhook_delivery_endpoint"),
            models.Index(fields=["created_at"], name="webhook_delivery_created"),
        ]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.message_id} → {self.outcome}"
