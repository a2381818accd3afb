"""Admin for spaces and space memberships; every write goes through services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from personas.models import MembershipSource, Space, SpaceMembership
from personas.selectors import (
    space_member_count,
    space_members_page,
    spaces_with_member_count,
)
from personas.services import (
    space_delete,
    space_member_add,
    space_member_remove,
    space_upsert,
)
from users.admin.common import ServiceErrorsAsMessages
from users.services import Actor

MEMBERS_PREVIEW = 20


def _reason_text(reason: dict[str, Any]) -> str:
    if reason["source"] == MembershipSource.MANUAL:
        return f"added by hand ({reason['role']})"
    return f"persona {reason['persona']} ({reason['role']})"


def _members_link(space_id: int, text: str) -> str:
    url = reverse("admin:personas_spacemembership_changelist") + f"?space__id__exact={space_id}"
    return format_html('<a href="{}">{}</a>', url, text)


class DeletesMemberships:
    """The delete confirmation of a space or persona: counts, not a list of every
    membership (there may be 50,000), and no per-row permission check. The service
    deletes and audits the memberships; persona rows may not be deleted one by one
    (SpaceMembershipAdmin), which would otherwise block deleting their persona."""

    membership_field: str

    def get_deleted_objects(
        self, objs: Any, request: HttpRequest
    ) -> tuple[list[str], dict[str, int], set[str], list[str]]:
        objs = list(objs)
        memberships = SpaceMembership.objects.filter(**{f"{self.membership_field}__in": objs})
        counts = {str(objs[0]._meta.verbose_name_plural): len(objs)} if objs else {}
        counts[str(SpaceMembership._meta.verbose_name_plural)] = memberships.count()
        return [str(obj) for obj in objs], counts, set(), []


@admin.register(Space)
class SpaceAdmin(DeletesMemberships, ServiceErrorsAsMessages, admin.ModelAdmin):
    membership_field = "space"
    list_display = ("slug", "name", "member_count", "updated_at")
    search_fields = ("slug", "name")
    fields = ("slug", "name", "members", "created_at", "updated_at")
    readonly_fields = ("members", "created_at", "updated_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Space]:
        return spaces_with_member_count()

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # Files and the API name spaces by slug: it is fixed once the space exists.
        return ("slug", *self.readonly_fields) if obj is not None else self.readonly_fields

    @admin.display(description="Members", ordering="member_count")
    def member_count(self, obj: Space) -> int:
        return obj.member_count  # type: ignore[attr-defined]

    @admin.display(description="Members")
    def members(self, obj: Space) -> str:
        if not obj.pk:
            return "—"
        count = space_member_count(obj)
        link = _members_link(obj.pk, f"{count} member(s): all of them, searchable, with reasons")
        page, _ = space_members_page(obj, after=None, limit=MEMBERS_PREVIEW)
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (m.user.username, m.role, ", ".join(_reason_text(r) for r in m.reasons))
                for m in page
            ),
        )
        return format_html(
            "{}<table><thead><tr><th>User</th><th>Role</th><th>Why</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            link,
            rows,
        )

    def save_model(self, request: HttpRequest, obj: Space, form: Any, change: bool) -> None:
        saved, _ = space_upsert(slug=obj.slug, name=obj.name, actor=Actor.admin(request.user))
        obj.pk, obj._state.adding = saved.pk, False

    def delete_model(self, request: HttpRequest, obj: Space) -> None:
        space_delete(space=obj, actor=Actor.admin(request.user))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Space]) -> None:
        for space in queryset:
            space_delete(space=space, actor=Actor.admin(request.user))


@admin.register(SpaceMembership)
class SpaceMembershipAdmin(ServiceErrorsAsMessages, admin.ModelAdmin):
    list_display = ("user", "space", "role", "source", "persona", "created_at")
    list_filter = ("source", "space")
    search_fields = ("user__username", "user__email", "user__last_name", "space__slug")
    autocomplete_fields = ("user",)
    list_select_related = ("user", "space", "persona")
    show_full_result_count = False
    list_per_page = 100
    fields = ("space", "user", "role", "source", "persona", "created_at")
    readonly_fields = ("source", "persona", "created_at")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Persona rows follow their rule; a manual row is added or removed, not edited.
        return False if obj is not None else super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.source != MembershipSource.MANUAL:
            return False
        return super().has_delete_permission(request, obj)

    def save_model(
        self, request: HttpRequest, obj: SpaceMembership, form: Any, change: bool
    ) -> None:
        saved = space_member_add(
            space=obj.space, user=obj.user, role=obj.role, actor=Actor.admin(request.user)
        )
        obj.pk, obj._state.adding, obj.source = saved.pk, False, saved.source

    def delete_model(self, request: HttpRequest, obj: SpaceMembership) -> None:
        if obj.source == MembershipSource.MANUAL:
            space_member_remove(space=obj.space, user=obj.user, actor=Actor.admin(request.user))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[SpaceMembership]) -> None:
        for membership in queryset.filter(source=MembershipSource.MANUAL).select_related(
            "space", "user"
        ):
            self.delete_model(request, membership)
