"""Admin: events tokens and webhook endpoints (raw secrets shown once, on the page that
answers the creating POST, never in a message), the delivery log with "resend", "send
test event", and the read-only outbox."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.cache import add_never_cache_headers

from axero_idp.errors import ValidationFailed
from events.catalogue import EVENT_TYPES, event_types_clean
from events.models import Event, EventsToken, WebhookDelivery, WebhookEndpoint
from events.tokens import events_token_create, events_token_revoke
from events.webhooks import (
    webhook_endpoint_add,
    webhook_endpoint_disable,
    webhook_endpoint_enable,
    webhook_endpoint_update,
    webhook_url_clean,
)
from users.services import Actor

# The dashboard names webhook endpoints that are disabled or failing (the template
# extends admin's own index).
admin.site.index_template = "admin/events/index.html"


def _shown_once(
    admin_: admin.ModelAdmin, request: HttpRequest, *, what: str, name: str, label: str, raw: str
) -> HttpResponse:
    opts = admin_.model._meta
    context = {
        **admin_.admin_site.each_context(request),
        "title": f"{what} {name} created",
        "what": what,
        "name": name,
        "secret_label": label,
        "raw": raw,
        "opts": opts,
        "changelist_url": reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"),
    }
    response = TemplateResponse(request, "admin/events/created.html", context)
    add_never_cache_headers(response)
    return response


@admin.register(EventsToken)
class EventsTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "created_at", "last_used_at", "revoked_at")
    search_fields = ("name",)
    fields = ("name", "prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return (*self.readonly_fields, "name") if obj is not None else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: EventsToken, form: Any, change: bool) -> None:
        if change:
            return
        token, raw = events_token_create(name=obj.name, actor=Actor.admin(request.user))
        obj.pk = token.pk
        obj.refresh_from_db()
        obj._raw_token = raw  # type: ignore[attr-defined]  # this response only

    def response_add(
        self, request: HttpRequest, obj: EventsToken, post_url_continue: str | None = None
    ) -> HttpResponse:
        raw = obj._raw_token  # type: ignore[attr-defined]
        return _shown_once(
            self, request, what="Events token", name=obj.name, label="bearer token", raw=raw
        )

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request: HttpRequest, queryset: Any) -> None:
        for token in queryset.filter(revoked_at__isnull=True):
            events_token_revoke(name=token.name, actor=Actor.admin(request.user))
        self.message_user(request, "Revoked.")


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=2000, assume_scheme="https")
    events = forms.CharField(
        required=False,
        help_text="Comma-separated event types; empty for all: " + ", ".join(EVENT_TYPES),
    )

    class Meta:
        model = WebhookEndpoint
        fields = ("url", "description", "events", "batch")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["events"] = ",".join(self.instance.event_types)

    def clean_url(self) -> str:
        return _checked(webhook_url_clean, self.cleaned_data.get("url", ""))

    def clean_events(self) -> str:
        value = self.cleaned_data.get("events", "")
        _checked(event_types_clean, value)
        return value


def _checked(check: Any, value: Any) -> Any:
    """A service's validation as a form error, not a 500."""
    try:
        check(value)
    except ValidationFailed as exc:
        raise forms.ValidationError(exc.detail) from exc
    return value


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ("url", "active", "status", "batch", "types", "created_at")
    list_filter = ("active",)
    readonly_fields = ("active", "cursor", "failing_since", "next_attempt_at", "disabled_reason")
    actions = ["send_test_event", "enable", "disable"]

    @admin.display(description="status")
    def status(self, obj: WebhookEndpoint) -> str:
        if not obj.active:
            return f"disabled: {obj.disabled_reason}"
        if obj.failing_since:
            return f"failing since {obj.failing_since:%Y-%m-%d %H:%M} UTC ({obj.attempts} tries)"
        return "ok"

    @admin.display(description="events")
    def types(self, obj: WebhookEndpoint) -> str:
        return ", ".join(obj.event_types) or "all"

    def save_model(
        self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool
    ) -> None:
        actor = Actor.admin(request.user)
        values = form.cleaned_data
        args = {
            "url": values["url"],
            "event_types": values["events"],
            "batch": values["batch"],
            "description": values.get("description", ""),
        }
        if change:
            webhook_endpoint_update(endpoint=obj, actor=actor, **args)
            return
        endpoint, secret = webhook_endpoint_add(actor=actor, **args)
        obj.pk = endpoint.pk
        obj.refresh_from_db()
        obj._raw_secret = secret  # type: ignore[attr-defined]  # this response only

    def response_add(
        self, request: HttpRequest, obj: WebhookEndpoint, post_url_continue: str | None = None
    ) -> HttpResponse:
        raw = obj._raw_secret  # type: ignore[attr-defined]
        return _shown_once(
            self, request, what="Webhook endpoint", name=obj.url, label="signing secret", raw=raw
        )

    @admin.action(description="Send a test event")
    def send_test_event(self, request: HttpRequest, queryset: Any) -> None:
        from events.tasks import webhook_test_send_task

        for endpoint in queryset:
            webhook_test_send_task.delay(endpoint.pk)
        self.message_user(request, "Test events queued: see the delivery log.")

    @admin.action(description="Enable (failures start over)")
    def enable(self, request: HttpRequest, queryset: Any) -> None:
        for endpoint in queryset:
            webhook_endpoint_enable(endpoint=endpoint, actor=Actor.admin(request.user))
        self.message_user(request, "Enabled.")

    @admin.action(description="Disable")
    def disable(self, request: HttpRequest, queryset: Any) -> None:
        for endpoint in queryset:
            webhook_endpoint_disable(endpoint=endpoint, actor=Actor.admin(request.user))
        self.message_user(request, "Disabled.")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "endpoint",
        "message_id",
        "event_type",
        "outcome",
        "response_status",
        "latency_ms",
        "error",
    )
    list_filter = ("outcome", "endpoint")
    search_fields = ("message_id",)
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    show_full_result_count = False
    actions = ["resend"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Resend")
    def resend(self, request: HttpRequest, queryset: Any) -> None:
        from events.tasks import webhook_delivery_resend_task

        for delivery in queryset:
            webhook_delivery_resend_task.delay(delivery.pk)
        self.message_user(request, "Resends queued: see the delivery log.")


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ("id", "position", "type", "actor_kind", "created_at")
    list_filter = ("type", "actor_kind")
    readonly_fields = [f.name for f in Event._meta.fields]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
