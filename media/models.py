"""Profile images: one stored image per user, plus the photo fetch's bookkeeping.

The image bytes live in Django's storage (MEDIA_ROOT) under an unguessable name; this
row is the pointer. Rows change only through media.services.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ImageSource(models.TextChoices):
    UPLOAD = "upload", "Self-service upload"
    API = "api", "Add User Image API"
    ADMIN = "admin", "Admin"
    SCIM = "scim", "SCIM photo URL"
    SAML = "saml", "SAML photo URL"


class ProfileImage(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="profile_image",
    )
    # "" while there is no image (the row may exist only to remember a failed fetch).
    storage_name = models.CharField(max_length=255, blank=True, default="")
    content_type = models.CharField(max_length=40, blank=True, default="")
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    byte_size = models.PositiveIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True, default="")
    source = models.CharField(max_length=10, choices=ImageSource.choices, blank=True, default="")
    source_url = models.URLField(max_length=2000, blank=True, default="")
    updated_at = models.DateTimeField(default=timezone.now)
    # The identity provider's photo URL this row has dealt with: fetched, refused for
    # good, or superseded by a manual upload. A new URL from the IdP differs from it.
    photo_url_handled = models.URLField(max_length=2000, blank=True, default="")
    last_failure_at = models.DateTimeField(null=True, blank=True)
    last_failure_reason = models.CharField(max_length=500, blank=True, default="")
    last_failure_url = models.URLField(max_length=2000, blank=True, default="")
    # The photo URL the catch-up job last queued, and when: it is not queued again while
    # that task may still be waiting or retrying (a failure or success records itself).
    catch_up_queued_url = models.URLField(max_length=2000, blank=True, default="")
    catch_up_queued_at = models.DateTimeField(null=True, blank=True)
    # What the server said about the photo last fetched from source_url (sent back as
    # If-None-Match / If-Modified-Since), and when that URL was last checked.
    fetch_etag = models.CharField(max_length=255, blank=True, default="")
    fetch_last_modified = models.CharField(max_length=64, blank=True, default="")
    fetch_checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return f"image of {self.user_id}"

    @property
    def has_image(self) -> bool:
        return bool(self.storage_name)

    @property
    def version(self) -> str:
        """Short fingerprint for cache-busting URLs (the full sha256 is the ETag)."""
        return self.sha256[:16]


class PendingPhotoFetch(models.Model):
    """The image pipeline's outbox: a photo URL to fetch, written in the same
    transaction as the change that set it (users.events.subscribe_in_transaction), and
    deleted in the transaction that stores the image. A broker that is down when the
    URL is set, or a worker killed mid-fetch, only delays the fetch (media.pending)."""

    id = models.BigAutoField(primary_key=True)
    # A plain value, not a foreign key: a row for a user deleted since is a no-op.
    user_id = models.UUIDField()
    url = models.URLField(max_length=2000)
    # The kind of actor that set the URL (users.models.ActorKind), for the image's source.
    origin = models.CharField(max_length=10, blank=True, default="")
    # Network failures so far; the row waits until not_before before the next attempt.
    attempts = models.PositiveSmallIntegerField(default=0)
    not_before = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        indexes = [
            # The drain's claim: due rows, oldest first.
            models.Index(fields=["not_before", "id"], name="media_pending_due_idx"),
            # The catch-up's "already waiting in the outbox".
            models.Index(fields=["user_id"], name="media_pending_user_idx"),
        ]

    def __str__(self) -> str:
        return f"pending photo fetch {self.pk} for {self.user_id}"
