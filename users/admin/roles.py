"""Admin for roles and memberships. A role page never renders its members inline:
memberships have their own paginated, searchable list."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from users.admin.common import ServiceErrorsAsMessages
from users.models import MembershipSource, Role, RoleMembership
from users.selectors import roles_with_member_count
from users.services import (
    Actor,
    role_create,
    role_delete,
    role_members_add,
    role_members_remove,
    role_rename,
)


@admin.register(Role)
class RoleAdmin(ServiceErrorsAsMessages, admin.ModelAdmin):
    list_display = ("display_name", "member_count", "external_id", "updated_at")
    search_fields = ("display_name", "external_id")
    readonly_fields = ("id", "members_link", "version", "created_at", "updated_at")
    fields = (
        "id",
        "display_name",
        "external_id",
        "members_link",
        "version",
        "created_at",
        "updated_at",
    )
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Role]:
        return roles_with_member_count()

    @admin.display(description="Members", ordering="member_count")
    def member_count(self, obj: Role) -> int:
        return obj.member_count  # type: ignore[attr-defined]

    @admin.display(description="Members")
    def members_link(self, obj: Role) -> str:
        if not obj.pk:
            return "—"
        url = reverse("admin:users_rolemembership_changelist") + f"?role__id__exact={obj.pk}"
        count = getattr(obj, "member_count", None)
        if count is None:
            count = obj.memberships.values("user").distinct().count()
        return format_html('<a href="{}">{} member(s): view, search, add or remove</a>', url, count)

    def save_model(self, request: HttpRequest, obj: Role, form: Any, change: bool) -> None:
        actor = Actor.admin(request.user)
        if change:
            role_rename(
                role=obj,
                actor=actor,
                display_name=obj.display_name,
                external_id=obj.external_id,
            )
        else:
            created = role_create(
                actor=actor, display_name=obj.display_name, external_id=obj.external_id
            )
            obj.pk, obj._state.adding = created.pk, False

    def delete_model(self, request: HttpRequest, obj: Role) -> None:
        role_delete(role=obj, actor=Actor.admin(request.user))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Role]) -> None:
        for role in queryset:
            role_delete(role=role, actor=Actor.admin(request.user))


@admin.register(RoleMembership)
class RoleMembershipAdmin(ServiceErrorsAsMessages, admin.ModelAdmin):
    list_display = ("user", "role", "source", "created_at")
    list_filter = ("source",)
    search_fields = ("user__username", "user__email", "user__last_name", "role__display_name")
    autocomplete_fields = ("user", "role")
    list_select_related = ("user", "role")
    show_full_result_count = False
    list_per_page = 100
    fields = ("role", "user", "source", "created_at")
    readonly_fields = ("source", "created_at")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A membership is added or removed, never edited in place.
        return False if obj is not None else super().has_change_permission(request, obj)

    def save_model(
        self, request: HttpRequest, obj: RoleMembership, form: Any, change: bool
    ) -> None:
        role_members_add(
            role=obj.role,
            user_ids=[obj.user_id],
            source=MembershipSource.MANUAL,
            actor=Actor.admin(request.user),
        )
        saved = RoleMembership.objects.get(
            role=obj.role, user_id=obj.user_id, source=MembershipSource.MANUAL
        )
        obj.pk, obj._state.adding, obj.source = saved.pk, False, saved.source

    def delete_model(self, request: HttpRequest, obj: RoleMembership) -> None:
        role_members_remove(
            role=obj.role,
            user_ids=[obj.user_id],
            source=obj.source,
            actor=Actor.admin(request.user),
        )

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[RoleMembership]) -> None:
        for membership in queryset.select_related("role"):
            self.delete_model(request, membership)
