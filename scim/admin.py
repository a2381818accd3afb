"""Admin: tokens (the raw value shown once, hashes never) and the read-only request log."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers

from scim.models import ScimRequestLog, ScimToken
from scim.tokens import scim_token_create
from users.services import Actor


@admin.register(ScimToken)
class ScimTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "connection", "prefix", "created_at", "last_used_at", "revoked_at")
    list_filter = ("connection",)
    list_select_related = ("connection",)
    search_fields = ("name",)
    fields = ("name", "connection", "prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None:
            return (*self.readonly_fields, "name", "connection")
        return self.readonly_fields

    def save_model(self, request: HttpRequest, obj: ScimToken, form: Any, change: bool) -> None:
        if change:
            return
        token, raw = scim_token_create(
            name=obj.name,
            actor=Actor.admin(request.user),
            connection_slug=obj.connection.slug if obj.connection else None,
        )
        obj.pk = token.pk
        obj.refresh_from_db()
        # Kept on this request's object only, for response_add: never in a message,
        # which the default storage puts in a cookie (browser, proxies, logs).
        obj._raw_token = raw  # type: ignore[attr-defined]

    def response_add(
        self, request: HttpRequest, obj: ScimToken, post_url_continue: str | None = None
    ) -> HttpResponse:
        """The raw token, on the page that answers the creating POST itself."""
        context = {
            **self.admin_site.each_context(request),
            "title": f"SCIM token {obj.name} created",
            "token": obj,
            "raw": obj._raw_token,  # type: ignore[attr-defined]
            "opts": self.model._meta,
        }
        response = TemplateResponse(request, "admin/scim/scimtoken/created.html", context)
        add_never_cache_headers(response)
        return response

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
    search_fields = ("path", "error_detail", "request_body", "request_id", "ignored_attributes")
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in ScimRequestLog._meta.fields]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
