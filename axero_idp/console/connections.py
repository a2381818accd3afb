"""Admin → Connections: create a connection from a vendor preset, read the values to
paste into the identity provider, import its metadata, mint a SCIM token, watch the
checklist tick, and run a test login. Every write is a service call (audited there)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers

from axero_idp.console.selectors import (
    connection_checklist,
    connection_idp,
    connection_tokens,
)
from axero_idp.csp import csp_form_action_allow
from axero_idp.errors import ApplicationError
from scim.tokens import scim_token_create
from sso.connection_values import ConnectionValues
from sso.forms import MetadataForm
from sso.keys import signing_key_pair
from sso.presets import preset_for
from sso.services import idp_import_for_connection
from users.models import Connection, SetupLink
from users.services import Actor, connection_create
from users.services.connections import SLUG_PATTERN
from users.services.setup_links import setup_link_create, setup_link_revoke

TEMPLATE = "admin/console/connection.html"


class ConnectionCreateForm(forms.ModelForm):
    class Meta:
        model = Connection
        fields = ("vendor", "slug")
        help_texts = {"slug": "Part of every URL below, e.g. onelogin. Cannot change later."}

    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"]
        if not SLUG_PATTERN.match(slug):
            raise forms.ValidationError("Lower-case letters, digits and -, at most 50.")
        return slug


class ConnectionAdmin(admin.ModelAdmin):
    form = ConnectionCreateForm
    list_display = ("slug", "vendor", "created_at")
    search_fields = ("slug",)

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        own = [
            path("<int:pk>/metadata/", view(self.metadata_view), name="users_connection_metadata"),
            path("<int:pk>/scim-token/", view(self.token_view), name="users_connection_token"),
            path("<int:pk>/setup-link/", view(self.setup_link_view), name="users_connection_link"),
            path(
                "<int:pk>/setup-link/<int:link_pk>/revoke/",
                view(self.setup_link_revoke_view),
                name="users_connection_link_revoke",
            ),
            path("sp-certificate.pem", view(self.certificate_view), name="users_connection_spcert"),
        ]
        return own + super().get_urls()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Deleting a connection would unbind its people and tokens without a trace; an
        # identity provider is retired on its own page (deactivate, audited) instead.
        return False

    def save_model(self, request: HttpRequest, obj: Connection, form: Any, change: bool) -> None:
        created = connection_create(
            slug=obj.slug, vendor=obj.vendor, actor=Actor.admin(request.user)
        )
        obj.pk, obj.created_at = created.pk, created.created_at

    def response_add(
        self, request: HttpRequest, obj: Connection, post_url_continue: str | None = None
    ) -> HttpResponse:
        # Straight to the connection page: its values are what the admin needs next.
        messages.success(request, f"Connection {obj.slug} created.")
        return HttpResponseRedirect(reverse("admin:users_connection_change", args=[obj.pk]))

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        connection = get_object_or_404(Connection, pk=object_id)
        return self.page(request, connection, MetadataForm())

    def page(
        self, request: HttpRequest, connection: Connection, form: MetadataForm, status: int = 200
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Connection {connection.slug}",
            "connection": connection,
            "preset": preset_for(connection.vendor),
            "values": ConnectionValues.for_slug(connection.slug),
            "checklist": connection_checklist(connection),
            "idp": connection_idp(connection),
            "tokens": connection_tokens(connection),
            "setup_links": list(connection.setup_links.order_by("-created_at")[:10]),
            "now": timezone.now(),
            "metadata_form": form,
            "steps_template": f"admin/console/steps/{preset_for(connection.vendor).vendor}.html",
        }
        response = TemplateResponse(request, TEMPLATE, context, status=status)
        if context["idp"] is not None:
            # The test login form posts here and is redirected on to the IdP, which the
            # Content-Security-Policy's form-action must allow (browsers check redirects).
            csp_form_action_allow(response, context["idp"].sso_url)
        return response

    def metadata_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        connection = self._connection_for_change(request, pk)
        form = MetadataForm(request.POST, request.FILES)
        if request.method != "POST" or not form.is_valid():
            return self.page(request, connection, form, status=400)
        try:
            _idp, created, _changes = idp_import_for_connection(
                connection=connection,
                actor=Actor.admin(request.user),
                metadata_xml=form.metadata_bytes(),
                metadata_url=form.cleaned_data.get("metadata_url") or None,
            )
        except ApplicationError as exc:
            form.add_error(None, exc.detail)
            return self.page(request, connection, form, status=400)
        messages.success(request, "IdP metadata imported." if created else "IdP metadata updated.")
        return HttpResponseRedirect(reverse("admin:users_connection_change", args=[pk]))

    def token_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The raw token on the page that answers the creating POST, never in a message
        (messages live in a cookie)."""
        connection = self._connection_for_change(request, pk)
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:users_connection_change", args=[pk]))
        name = f"{connection.slug}-scim-{len(connection_tokens(connection)) + 1}"
        token, raw = scim_token_create(
            name=name, actor=Actor.admin(request.user), connection_slug=connection.slug
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"SCIM token {token.name} created",
            "connection": connection,
            "token": token,
            "raw": raw,
            "values": ConnectionValues.for_slug(connection.slug),
        }
        response = TemplateResponse(request, "admin/console/token_created.html", context)
        add_never_cache_headers(response)
        return response

    def setup_link_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The link on the page that answers the creating POST, once (only its hash is
        kept), like a SCIM token."""
        connection = self._connection_for_change(request, pk)
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:users_connection_change", args=[pk]))
        link, raw = setup_link_create(connection=connection, actor=Actor.admin(request.user))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Setup link for {connection.slug}",
            "connection": connection,
            "link": link,
            "url": settings.SITE_URL.rstrip("/") + reverse("sso_setup:open", args=[raw]),
        }
        response = TemplateResponse(request, "admin/console/setup_link_created.html", context)
        add_never_cache_headers(response)
        return response

    def setup_link_revoke_view(self, request: HttpRequest, pk: int, link_pk: int) -> HttpResponse:
        connection = self._connection_for_change(request, pk)
        if request.method == "POST":
            link = get_object_or_404(SetupLink, pk=link_pk, connection=connection)
            setup_link_revoke(link=link, actor=Actor.admin(request.user))
            messages.success(request, f"Setup link {link.prefix}… revoked.")
        return HttpResponseRedirect(reverse("admin:users_connection_change", args=[pk]))

    def certificate_view(self, request: HttpRequest) -> HttpResponse:
        _key, certificates = signing_key_pair()
        response = HttpResponse("".join(certificates), content_type="application/x-pem-file")
        response["Content-Disposition"] = 'attachment; filename="axero-sp-certificate.pem"'
        return response

    def _connection_for_change(self, request: HttpRequest, pk: int) -> Connection:
        connection = get_object_or_404(Connection, pk=pk)
        if not self.has_change_permission(request, connection):
            raise PermissionDenied
        return connection
