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
