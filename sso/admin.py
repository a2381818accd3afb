"""Admin for identity providers (with their recent refused logins), SP keys (never
the private key), SAML identities and sessions."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from sso.keys import keys_cache_clear
from sso.models import IdentityProvider, SamlIdentity, SamlSession, SPKey
from sso.services import idp_deactivate, idp_delete
from users.admin.changes import admin_changes, certificate_fingerprints
from users.models import AuditEvent
from users.services import Actor, audit_record, connection_ensure

RECENT_FAILURES = 20


@admin.register(IdentityProvider)
class IdentityProviderAdmin(admin.ModelAdmin):
    list_display = (
        "slug",
        "name",
        "entity_id",
        "is_active",
        "allow_idp_initiated",
        "jit_create",
        "updated_at",
    )
    list_filter = ("is_active", "allow_idp_initiated", "jit_create", "link_by_email")
    search_fields = ("slug", "name", "entity_id")
    readonly_fields = ("metadata_refreshed_at", "created_at", "updated_at", "recent_failures")
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def save_model(
        self, request: HttpRequest, obj: IdentityProvider, form: Any, change: bool
    ) -> None:
        # Everything here runs in the change form's transaction: the edit, its audit
        # record and (on deactivation) the end of the IdP's sessions commit together.
        actor = Actor.admin(request.user)
        before = IdentityProvider.objects.filter(pk=obj.pk).first() if change else None
        super().save_model(request, obj, form, change)
        if not change:
            connection_ensure(slug=obj.slug, actor=actor)
        changes = admin_changes(
            before,
            obj,
            form.changed_data if change else list(form.fields),
            summaries={"signing_certificates": certificate_fingerprints},
        )
        if changes:
            # One record per save, each changed field before and after: turning on
            # link-by-email or IdP-initiated login is a security decision to find later.
            action = "sso.idp_changed" if change else "sso.idp_created"
            audit_record(actor=actor, action=action, target=obj, detail={"changes": changes})
        if change and "is_active" in form.changed_data and not obj.is_active:
            idp_deactivate(idp=obj, actor=actor)

    def get_readonly_fields(
        self, request: HttpRequest, obj: IdentityProvider | None = None
    ) -> tuple[str, ...]:
        # The slug names the connection (users.Connection) its SCIM tokens are bound to.
        fields = tuple(super().get_readonly_fields(request, obj))
        return (*fields, "slug") if obj is not None else fields

    def delete_model(self, request: HttpRequest, obj: IdentityProvider) -> None:
        idp_delete(idp=obj, actor=Actor.admin(request.user))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[IdentityProvider]) -> None:
        for idp in queryset:
            idp_delete(idp=idp, actor=Actor.admin(request.user))

    @admin.display(description="Recent refused logins")
    def recent_failures(self, obj: IdentityProvider) -> SafeString | str:
        if obj.pk is None:
            return "-"
        events = AuditEvent.objects.filter(
            target_type="identityprovider",
            target_id=obj.slug,
            action__in=["saml.login_refused", "saml.logout_refused"],
        ).order_by("-created_at", "-id")[:RECENT_FAILURES]
        rows = [
            (
                f"{e.created_at:%Y-%m-%d %H:%M:%S}",
                e.detail.get("reason", ""),
                e.detail.get("message", ""),
                e.detail.get("reference", ""),
            )
            for e in events
        ]
        if not rows:
            return "None"
        body = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>", rows
        )
        return format_html(
            "<table><tr><th>when</th><th>reason</th><th>detail</th><th>reference</th></tr>{}</table>",
            body,
        )


@admin.register(SPKey)
class SPKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "is_active", "created_at")
    fields = ("name", "is_active", "certificate_pem", "created_at")
    readonly_fields = ("name", "certificate_pem", "created_at")
    exclude = ("private_key_encrypted",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Keys are generated (sso.keys.sp_key_create), never pasted in.
        return False

    def save_model(self, request: HttpRequest, obj: SPKey, form: Any, change: bool) -> None:
        before = SPKey.objects.filter(pk=obj.pk).first()
        super().save_model(request, obj, form, change)
        changes = admin_changes(before, obj, form.changed_data)
        if changes:
            audit_record(
                actor=Actor.admin(request.user),
                action="sso.sp_key_changed",
                target=obj,
                detail={"name": obj.name, "changes": changes},
            )
        keys_cache_clear()


@admin.register(SamlIdentity)
class SamlIdentityAdmin(admin.ModelAdmin):
    list_display = ("name_id", "idp", "user", "created_at", "last_login_at")
    list_filter = ("idp",)
    search_fields = ("name_id", "user__username", "user__email")
    raw_id_fields = ("user",)


@admin.register(SamlSession)
class SamlSessionAdmin(admin.ModelAdmin):
    list_display = ("user", "idp", "session_index", "created")
    list_filter = ("idp",)
    search_fields = ("name_id", "user__username")
    readonly_fields = (
        "idp",
        "user",
        "session_key",
        "name_id",
        "name_id_format",
        "session_index",
        "created",
    )
    exclude = ()
