"""Admin for people: search, filters, deactivate/reactivate with confirmation.

Every save goes through users.services, so an admin edit is audited like a SCIM push.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.contrib.auth.admin import UserAdmin as AuthUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from users.admin.common import ServiceErrorsAsMessages
from users.admin.user_page import user_page_context
from users.models import CustomField, CustomFieldType, Role, User
from users.services import (
    Actor,
    audit_record,
    user_access_set,
    user_create,
    user_deactivate,
    user_delete,
    user_idp_reactivation_allow,
    user_reactivate,
    user_update,
)
from users.services.values import ATTRIBUTE_FIELDS

CUSTOM_PREFIX = "custom__"


def _custom_form_field(field: CustomField) -> forms.Field:
    common: dict[str, Any] = {"label": field.label, "required": False}
    if field.type == CustomFieldType.DATE:
        return forms.DateField(**common, widget=forms.DateInput(attrs={"type": "date"}))
    if field.type == CustomFieldType.NUMBER:
        return forms.DecimalField(**common)
    if field.type == CustomFieldType.BOOLEAN:
        return forms.NullBooleanField(**common)
    if field.type == CustomFieldType.LIST:
        return forms.CharField(
            **common, help_text="One value per line.", widget=forms.Textarea(attrs={"rows": 3})
        )
    return forms.CharField(**common, max_length=1000)


def _username_clean(form: forms.ModelForm) -> str:
    username = form.cleaned_data["username"].strip()
    taken = User.objects.filter(username__ci=username)
    if form.instance.pk:
        taken = taken.exclude(pk=form.instance.pk)
    if taken.exists():
        raise forms.ValidationError(
            f"A user named {username!r} exists already (user names ignore case)."
        )
    return username


def _formfield(db_field: models.Field, **kwargs: Any) -> forms.Field | None:
    if isinstance(db_field, models.URLField):
        kwargs["assume_scheme"] = "https"
    return db_field.formfield(**kwargs)


class DirectoryUserChangeForm(UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User
        fields = "__all__"
        formfield_callback = _formfield

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # One form field per admin-defined custom profile field, typed by its definition.
        for definition in CustomField.objects.all():
            name = CUSTOM_PREFIX + definition.key
            self.fields[name] = _custom_form_field(definition)
            value = self.instance.custom.get(definition.key) if self.instance.pk else None
            if definition.type == CustomFieldType.LIST and isinstance(value, list):
                value = "\n".join(value)
            self.initial[name] = value

    def clean_username(self) -> str:
        return _username_clean(self)

    def custom_values(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in self.changed_data:
            if name.startswith(CUSTOM_PREFIX):
                value = self.cleaned_data[name]
                if isinstance(value, str) and "\n" in value:
                    value = [line.strip() for line in value.splitlines() if line.strip()]
                values[name.removeprefix(CUSTOM_PREFIX)] = value
        return values


class DirectoryUserCreationForm(AdminUserCreationForm):
    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ("username", "email", "first_name", "last_name")

    def clean_username(self) -> str:
        return _username_clean(self)


class RoleListFilter(admin.SimpleListFilter):
    title = "role"
    parameter_name = "role"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(pk), name) for pk, name in Role.objects.values_list("pk", "display_name")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> QuerySet[User]:
        if self.value():
            return queryset.filter(role_memberships__role_id=str(self.value())).distinct()
        return queryset


def _refused_any(
    modeladmin: UserAdmin, request: HttpRequest, queryset: QuerySet[User], *, verb: str
) -> bool:
    """Whether any selected account is one the change form would refuse this admin (a
    superuser, for staff without superuser rights): then nothing is done, like Django's
    own bulk delete does. Checked on the confirmation and on the confirmed post."""
    refused = [u for u in queryset if not modeladmin.has_change_permission(request, u)]
    if not refused:
        return False
    names = ", ".join(u.username for u in refused[:20])
    modeladmin.message_user(
        request,
        f"You may not {verb} {names}: only a superuser may change a superuser. "
        "Nothing was changed.",
        messages.ERROR,
    )
    return True


def _confirm(
    modeladmin: UserAdmin, request: HttpRequest, queryset: QuerySet[User], *, verb: str
) -> HttpResponse | None:
    """Show a confirmation page first; act when it is posted back with `confirm`."""
    if _refused_any(modeladmin, request, queryset, verb=verb):
        return None
    if request.POST.get("confirm") != "yes":
        context = {
            **modeladmin.admin_site.each_context(request),
            "title": f"{verb.capitalize()} {queryset.count()} user(s)?",
            "verb": verb,
            "users": queryset[:200],
            "count": queryset.count(),
            "action": request.POST.get("action"),
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "opts": modeladmin.model._meta,
        }
        return TemplateResponse(request, "admin/users/user/confirm_activation.html", context)
    actor = Actor.admin(request.user)
    service = user_deactivate if verb == "deactivate" else user_reactivate
    reason = (request.POST.get("reason") or "").strip()[:500] or f"{verb}d in admin"
    for user in queryset:
        service(user=user, actor=actor, reason=reason)
    modeladmin.message_user(
        request, f"{verb.capitalize()}d {queryset.count()} user(s).", messages.SUCCESS
    )
    return None


def _new_user_save(obj: User, form: Any, actor: Actor) -> None:
    password = (
        form.cleaned_data.get("password1")
        if form.cleaned_data.get("usable_password") != "false"
        else None
    )
    created = user_create(
        actor=actor,
        source="admin",
        username=obj.username,
        attributes={f: getattr(obj, f) for f in ("email", "first_name", "last_name")},
        password=password or None,
    )
    obj.pk, obj._state.adding, obj.password = created.pk, False, created.password


def _changes_save(obj: User, form: Any, actor: Actor) -> None:
    """An edit: each part through the service that owns it (and audits it, before
    and after): profile, custom fields and manager; the IdP-reactivation switch;
    admin access."""
    changed = set(form.changed_data)
    kwargs: dict[str, Any] = {
        "attributes": {f: form.cleaned_data[f] for f in changed.intersection(ATTRIBUTE_FIELDS)},
        "custom": form.custom_values(),
    }
    if "manager" in changed:
        manager = form.cleaned_data["manager"]
        kwargs["manager_ref"] = str(manager.pk) if manager else None
    user_update(user=obj, actor=actor, **kwargs)
    if "idp_may_reactivate" in changed:
        user_idp_reactivation_allow(
            user=obj, actor=actor, allowed=form.cleaned_data["idp_may_reactivate"]
        )
    if {"is_staff", "is_superuser"} & changed:
        user_access_set(user=obj, actor=actor, is_staff=obj.is_staff, is_superuser=obj.is_superuser)


def _django_permissions(user: User) -> dict[str, list[str]]:
    return {
        "groups": sorted(user.groups.values_list("name", flat=True)),
        "user_permissions": sorted(
            f"{app}.{codename}"
            for app, codename in user.user_permissions.values_list(
                "content_type__app_label", "codename"
            )
        ),
    }


@admin.register(User)
class UserAdmin(ServiceErrorsAsMessages, AuthUserAdmin):
    change_form_template = "admin/users/user/change_form.html"
    form = DirectoryUserChangeForm
    add_form = DirectoryUserCreationForm
    list_display = (
        "username",
        "email",
        "first_name",
        "last_name",
        "department",
        "source",
        "is_active",
        "hire_date",
        "manager",
    )
    list_filter = (
        "is_active",
        "source",
        RoleListFilter,
        ("hire_date", admin.DateFieldListFilter),
        "is_staff",
    )
    search_fields = ("username", "email", "first_name", "last_name", "employee_number")
    list_select_related = ("manager",)
    autocomplete_fields = ("manager",)
    ordering = ("username",)
    show_full_result_count = False
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    actions = ("deactivate_selected", "reactivate_selected")
    readonly_fields = (
        "id",
        "source",
        "external_id",
        "pending_manager_ref",
        "deactivated_at",
        "deactivated_by",
        "version",
        "created_at",
        "updated_at",
        "last_login",
        "role_names",
        "login_flows",
    )
    # The page leads with the person (profile, then their custom fields: get_fieldsets),
    # then organisation and status details; the account's plumbing comes last, and
    # Django's permission widgets are folded away (roles, not groups, are what matter).
    fieldsets = (
        (
            "Profile",
            {"fields": ("first_name", "last_name", "display_name", "email", "title", "photo_url")},
        ),
        (
            "Organisation",
            {
                "fields": (
                    "manager",
                    "pending_manager_ref",
                    "department",
                    "employee_number",
                    "cost_center",
                    "organization",
                    "division",
                    "hire_date",
                    "role_names",
                )
            },
        ),
        (
            "Status",
            {
                "fields": (
                    "is_active",
                    "deactivated_at",
                    "deactivated_by",
                    "idp_may_reactivate",
                    "last_login",
                    "login_flows",
                    "created_at",
                    "updated_at",
                    "version",
                )
            },
        ),
        ("Account", {"fields": ("id", "username", "password", "source", "external_id")}),
        ("Admin access", {"fields": ("is_staff", "is_superuser")}),
        (
            "Django permissions (groups and single permissions)",
            {"classes": ("collapse",), "fields": ("groups", "user_permissions")},
        ),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "username",
                    "email",
                    "first_name",
                    "last_name",
                    "usable_password",
                    "password1",
                    "password2",
                ),
            },
        ),
    )

    @admin.display(description="SAML sign-ins")
    def login_flows(self, obj: User) -> str:
        # sso's login flows of this person, by URL name (users/ never imports sso).
        if obj.pk is None:
            return "—"
        url = reverse("admin:sso_loginflow_changelist") + "?" + urlencode({"user__exact": obj.pk})
        return format_html('<a href="{}">Login flows (attempts, refusals, reasons)</a>', url)

    @admin.display(description="Roles")
    def role_names(self, obj: User) -> str:
        return (
            ", ".join(
                obj.roles.order_by("display_name").distinct().values_list("display_name", flat=True)
            )
            or "—"
        )

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return fieldsets
        custom = [CUSTOM_PREFIX + key for key in CustomField.objects.values_list("key", flat=True)]
        if not custom:
            return fieldsets
        return (fieldsets[0], ("Custom profile fields", {"fields": custom}), *fieldsets[1:])

    def get_form(  # type: ignore[override]
        self, request: HttpRequest, obj: Any = None, **kwargs: Any
    ) -> Any:
        # Custom profile fields are not model fields: the form adds them itself.
        if obj is not None:
            fields = kwargs.get("fields") or flatten_fieldsets(self.get_fieldsets(request, obj))
            kwargs["fields"] = [f for f in fields if not f.startswith(CUSTOM_PREFIX)]
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            # Active state changes only through the audited, confirmed actions.
            readonly.append("is_active")
        if not request.user.is_superuser:  # type: ignore[union-attr]
            readonly += ["is_staff", "is_superuser", "groups", "user_permissions"]
        return readonly

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A staff user without superuser rights never edits a superuser account.
        if obj is not None and obj.is_superuser and not request.user.is_superuser:  # type: ignore[union-attr]
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:  # type: ignore[union-attr]
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        actor = Actor.admin(request.user)
        if change:
            _changes_save(obj, form, actor)
        else:
            _new_user_save(obj, form, actor)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        before = _django_permissions(form.instance) if change else None
        super().save_related(request, form, formsets, change)
        if before is None:
            return
        after = _django_permissions(form.instance)
        changes = {
            name: [before[name], after[name]] for name in before if before[name] != after[name]
        }
        if changes:
            # Django's own m2m save: recorded here, in the change form's transaction.
            audit_record(
                actor=Actor.admin(request.user),
                action="user.permissions_changed",
                target=form.instance,
                detail={"changes": changes},
            )

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        own = [
            path(
                "<path:object_id>/deactivate/",
                view(self.deactivate_view),
                name="users_user_deactivate",
            ),
            path(
                "<path:object_id>/reactivate/",
                view(self.reactivate_view),
                name="users_user_reactivate",
            ),
        ]
        return own + super().get_urls()

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        user = self.get_object(request, unquote(object_id))
        if user is not None:
            extra_context = {**(extra_context or {}), **self.page_context(request, user)}
        return super().change_view(request, object_id, form_url, extra_context)

    def page_context(self, request: HttpRequest, user: User) -> dict[str, Any]:
        """What the page shows above the form; subclasses that compose other apps
        (axero_idp.console.user_page) add their sections here."""
        return {**user_page_context(user), "may_change": self.has_change_permission(request, user)}

    @method_decorator(require_POST)
    def deactivate_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._activation(request, object_id, user_deactivate, "deactivated")

    @method_decorator(require_POST)
    def reactivate_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._activation(request, object_id, user_reactivate, "reactivated")

    def _activation(
        self, request: HttpRequest, object_id: str, service: Any, done: str
    ) -> HttpResponse:
        """The page's Deactivate / Reactivate buttons: through the service, so the audit
        record (with the reason) and the admin-deactivation hold apply as everywhere."""
        user = self.get_object(request, unquote(object_id))
        if user is None:
            raise Http404
        if not self.has_change_permission(request, user):
            raise PermissionDenied
        page = reverse("admin:users_user_change", args=[user.pk])
        reason = (request.POST.get("reason") or "").strip()[:500]
        if not reason:
            self.message_user(
                request,
                "Nothing changed: give a reason (it goes into the audit trail).",
                messages.ERROR,
            )
            return HttpResponseRedirect(page)
        user = service(user=user, actor=Actor.admin(request.user), reason=reason)
        self.message_user(request, f"{user.get_full_name()} {done}.", messages.SUCCESS)
        return HttpResponseRedirect(page)

    def user_change_password(
        self, request: HttpRequest, id: str, form_url: str = ""
    ) -> HttpResponse:
        # Django's own view sets the password; the audit record commits with it.
        with transaction.atomic():
            response = super().user_change_password(request, id, form_url)
            if request.method == "POST" and response.status_code == 302:
                user = User.objects.get(pk=id)
                audit_record(
                    actor=Actor.admin(request.user),
                    action="user.password_changed",
                    target=user,
                    detail={"usable": user.has_usable_password()},
                )
        return response

    def delete_model(self, request: HttpRequest, obj: User) -> None:
        user_delete(user=obj, actor=Actor.admin(request.user))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            user_delete(user=user, actor=Actor.admin(request.user))

    @admin.action(
        description="Deactivate selected users (ends their sessions)", permissions=["change"]
    )
    def deactivate_selected(
        self, request: HttpRequest, queryset: QuerySet[User]
    ) -> HttpResponse | None:
        return _confirm(self, request, queryset, verb="deactivate")

    @admin.action(description="Reactivate selected users", permissions=["change"])
    def reactivate_selected(
        self, request: HttpRequest, queryset: QuerySet[User]
    ) -> HttpResponse | None:
        return _confirm(self, request, queryset, verb="reactivate")
