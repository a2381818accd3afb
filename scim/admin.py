"""Admin: tokens (the raw value shown once, hashes never) and the read-only request log."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils import timezone

from scim.models import ScimRequestLog, ScimToken
from scim.tokens import scim_token_create
from users.services import Actor


@admin.register(ScimToken)
class ScimTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "created_at", "last_used_at", "revoked_at")
    search_fields = ("name",)
    fields = ("name", "prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return (*self.readonly_fields, "name") if obj is not None else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: ScimToken, form: Any, change: bool) -> None:
        if change:
            return
        token, raw = scim_token_create(name=obj.name, actor=Actor.admin(request.user))
        obj.pk = token.pk
        obj.refresh_from_db()
        messages.warning(
            request,
            f"SCIM token {token.name!r}: {raw} — copy it into the identity provider now; "
            "it is not shown again.",
        )

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request: HttpRequest, queryset: Any) -> None:
        from scim.tokens import scim_token_revoke

        for token in queryset.filter(revoked_at__isnull=True):
            scim_token_revoke(name=token.name, actor=Actor.admin(request.user))
        self.message_user(request, f"Revoked at {timezone.now():%H:%M:%S}.")


@admin.register(ScimRequestLog)
class ScimRequestLogAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "token_name",
        "method",
        "path",
        "status",
        "scim_type",
        "duration_ms",
    )
    list_filter = ("status", "method", "token_name", ("created_at", admin.DateFieldListFilter))
    search_fields = ("path", "error_detail", "request_body", "request_id")
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in ScimRequestLog._meta.fields]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
