"""Admin for identity providers (with their recent refusals), login flows, SP keys
(never the private key), SAML identities and sessions."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from sso.keys import keys_cache_clear
from sso.models import (
    IdentityProvider,
    LoginFlow,
    LoginFlowOutcome,
    SamlIdentity,
    SamlSession,
    SPKey,
)
from sso.services import idp_deactivate, idp_delete
from users.admin.changes import admin_changes
from users.models import AuditEvent
from users.services import Actor, audit_record, connection_ensure
from users.services.audit import certificate_fingerprints

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

    @admin.display(description="Recent refusals")
    def recent_failures(self, obj: IdentityProvider) -> SafeString | str:
        if obj.pk is None:
            return "-"
        rows = recent_refusals(obj.slug)
        if not rows:
            return format_html('None. <a href="{}">All login flows</a>', login_flows_url(obj.slug))
        body = format_html_join(
            "",
            '<tr><td>{}</td><td>{}</td><td><a href="{}">{}</a></td><td>{}</td>'
            "<td><code>{}</code></td></tr>",
            rows,
        )
        return format_html(
            "<table><tr><th>when</th><th>what</th><th>reason</th><th>detail</th>"
            '<th>reference</th></tr>{}</table><p><a href="{}">All refused logins</a> · '
            '<a href="{}">all login flows</a></p>',
            body,
            login_flows_url(obj.slug, outcome=LoginFlowOutcome.REFUSED),
            login_flows_url(obj.slug),
        )


def login_flows_url(slug: str, **filters: str) -> str:
    """The login flows list of one connection (and more filters)."""
    query = urlencode({"idp_slug": slug, **{f"{k}__exact": v for k, v in filters.items()}})
    return f"{reverse('admin:sso_loginflow_changelist')}?{query}"


def recent_refusals(slug: str) -> list[tuple[str, str, str, str, str, str]]:
    """The connection's last refused logins (login flows) and logout messages (audit
    events), newest first: (when, what, link, reason, message, reference)."""
    logins = [
        (
            flow.created_at,
            "test login" if flow.dry_run else "login",
            reverse("admin:sso_loginflow_change", args=[flow.pk]),
            flow.reason,
            flow.message,
            flow.reference,
        )
        for flow in LoginFlow.objects.filter(
            idp_slug=slug, outcome=LoginFlowOutcome.REFUSED
        ).order_by("-created_at", "-id")[:RECENT_FAILURES]
    ]
    logouts = [
        (
            event.created_at,
            "logout",
            reverse("admin:users_auditevent_change", args=[event.pk]),
            str(event.detail.get("reason", "")),
            str(event.detail.get("message", "")),
            str(event.detail.get("reference", "")),
        )
        for event in AuditEvent.objects.filter(
            target_type="identityprovider", target_id=slug, action="saml.logout_refused"
        ).order_by("-created_at", "-id")[:RECENT_FAILURES]
    ]
    newest = sorted(logins + logouts, key=lambda row: row[0], reverse=True)[:RECENT_FAILURES]
    return [
        (f"{when:%Y-%m-%d %H:%M:%S}", what, link, reason, message, reference)
        for when, what, link, reason, message, reference in newest
    ]


@admin.register(LoginFlow)
class LoginFlowAdmin(admin.ModelAdmin):
    """Every SAML login attempt (sso.flows): searchable by person (NameID, email,
    username), filtered by connection, outcome, reason; read-only."""

    list_display = (
        "created_at",
        "idp_slug",
        "name_id",
        "person",
        "outcome",
        "dry_run",
        "initiated",
        "reason",
        "reference",
    )
    list_filter = ("outcome", "reason", "idp_slug", "dry_run", "idp_initiated", "created_at")
    search_fields = ("name_id", "email", "user__username", "user__email", "reference")
    list_select_related = ("user",)
    date_hierarchy = "created_at"
    readonly_fields = (
        "created_at",
        "idp_slug",
        "name_id",
        "email",
        "person",
        "outcome",
        "dry_run",
        "initiated",
        "reason",
        "message",
        "reference",
        "received_attributes",
    )
    exclude = ("user", "attributes", "idp_initiated")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # written by the login flow only

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="person")
    def person(self, obj: LoginFlow) -> SafeString | str:
        if obj.user_id is None:
            return obj.email or "-"
        url = reverse("admin:users_user_change", args=[obj.user_id])
        return format_html('<a href="{}">{}</a>', url, obj.user or obj.email)

    @admin.display(description="initiated by")
    def initiated(self, obj: LoginFlow) -> str:
        return {True: "IdP", False: "SP"}.get(obj.idp_initiated, "-")  # type: ignore[arg-type]

    @admin.display(description="attributes received (secrets redacted)")
    def received_attributes(self, obj: LoginFlow) -> SafeString | str:
        if not obj.attributes:
            return "-"
        rows = [(name, "; ".join(values)) for name, values in obj.attributes.items()]
        return format_html(
            "<table><tr><th>attribute</th><th>values</th></tr>{}</table>",
            format_html_join("", "<tr><td><code>{}</code></td><td>{}</td></tr>", rows),
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
