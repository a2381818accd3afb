"""Provisioning tokens and the provisioning request log.

Only a SHA-256 hash of a token is stored; the raw value is shown once, at creation.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class ScimToken(models.Model):
    """A bearer token an identity provider uses for SCIM (and the user image API)."""

    name = models.CharField(max_length=100, unique=True)
    # hex SHA-256 of the whole raw token; looked up by index, compared in constant time.
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The first characters of the raw token, so admins can tell tokens apart.
    prefix = models.CharField(max_length=16, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The identity provider's connection this token provisions for: the users it creates
    # or updates belong to it, and that IdP's SAML login links them on first sign-in.
    connection = models.ForeignKey(
        "users.Connection",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="scim_tokens",
        help_text="The identity provider (connection) this token provisions for.",
    )

    class Meta:
        ordering = ["name"]
        verbose_name = "SCIM token"

    def __str__(self) -> str:
        return self.name


class ScimRequestLog(models.Model):
    """One row per SCIM request: what an identity provider sent and how it ended."""

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    token_name = models.CharField(max_length=100, blank=True)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=2000)
    status = models.PositiveSmallIntegerField()
    duration_ms = models.PositiveIntegerField()
    scim_type = models.CharField(max_length=40, blank=True)
    error_detail = models.TextField(blank=True)
    request_body = models.TextField(blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    # Attributes the request carried that map to no field: accepted, kept nowhere.
    ignored_attributes = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["created_at"], name="scim_log_created_idx"),
            models.Index(fields=["status", "created_at"], name="scim_log_status_idx"),
            models.Index(fields=["token_name", "created_at"], name="scim_log_token_idx"),
        ]
        verbose_name = "SCIM request"

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.method} {self.path} {self.status}"
