"""Admin → Audit events: read-only, and readable. Each event names its target (a person
by name and email, a role, persona, space or connection by name) with a link to its
page; search finds the events about and by a person; a filter picks an action family;
the filtered list exports as CSV. Services write the trail; nobody edits it here."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from itertools import islice
from typing import Any, Final

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.safestring import SafeString

from axero_idp.console.audit_trail import (
    AUDIT_FAMILIES,
    AUDIT_TARGET_TYPES,
    Target,
    audit_search,
    audit_targets,
)
from users.admin.common import ReadOnlyAdmin
from users.models import AuditEvent

# An export is for reading in a spreadsheet, not a backup: past this many rows, narrow
# the filter (the last row says so).
EXPORT_MAX_ROWS: Final = 50_000
_EXPORT_CHUNK: Final = 1000
# Spreadsheets run a cell that starts with one of these as a formula (CSV injection):
# such a cell gets a leading quote, which shows as text.
_FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")
# Where a list row keeps its resolved target (None: not found) for the Target column.
_TARGET: Final = "_audit_target"
# The list counts this many matches at most (page 100 of 100 reaches the 10,000th).
COUNT_CAP: Final = 10_000


class ActionFamilyFilter(admin.SimpleListFilter):
    title = "action family"
    parameter_name = "family"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(key, label) for key, label, _ in AUDIT_FAMILIES]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[AuditEvent]
    ) -> QuerySet[AuditEvent]:
        for key, _, which in AUDIT_FAMILIES:
            if self.value() == key:
                return queryset.filter(which)
        return queryset


class TargetTypeFilter(admin.SimpleListFilter):
    """The kinds of target the trail names (a fixed list: a DISTINCT over the whole
    trail would read every row on each page view)."""

    title = "target type"
    parameter_name = "target_type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(kind, kind) for kind in AUDIT_TARGET_TYPES]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[AuditEvent]
    ) -> QuerySet[AuditEvent]:
        return queryset.filter(target_type=self.value()) if self.value() else queryset


class CappedCountPaginator(Paginator):
    """Counts at most COUNT_CAP matching events: an exact COUNT(*) of a trail that every
    login and push appends to reads the whole table on every page view."""

    @cached_property
    def count(self) -> int:
        events: QuerySet[AuditEvent] = self.object_list  # type: ignore[assignment]
        return events[: COUNT_CAP + 1].count()


class AuditChangeList(ChangeList):
    """Names the page's targets in one batch once the page's rows are read."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        targets = audit_targets(self.result_list)
        for event in self.result_list:
            setattr(event, _TARGET, targets.get((event.target_type, event.target_id)))


def _target_html(event: AuditEvent, target: Target | None) -> SafeString | str:
    if not event.target_type:
        return "—"
    if target is None:
        # Deleted since, or never existed (a refused login's unknown IdP): the stored id.
        return format_html("{} <code>{}</code>", event.target_type, event.target_id or "—")
    if target.url:
        return format_html('<a href="{}">{}</a>', target.url, target.label)
    return target.label


def detail_summary(detail: dict[str, Any]) -> str:
    """One line for the list: what changed, or why it was refused."""
    if isinstance(detail.get("changes"), dict):
        return "changed: " + ", ".join(sorted(detail["changes"]))
    for key in ("reason", "message", "name"):
        if isinstance(detail.get(key), str) and detail[key]:
            return detail[key][:120]
    return ""


class AuditEventAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    change_list_template = "admin/users/auditevent/change_list.html"
    list_display = ("created_at", "action", "actor", "target_link", "summary", "request_id")
    # No filter that reads its choices from the trail (DISTINCT action, a date
    # hierarchy): each would scan the whole table on every page view. An exact action
    # name is a search term instead.
    list_filter = (
        ActionFamilyFilter,
        "actor_kind",
        TargetTypeFilter,
        ("created_at", admin.DateFieldListFilter),
    )
    paginator = CappedCountPaginator
    search_fields = ("action",)  # the real search is audit_search (names, emails, ids)
    search_help_text = (
        "A person's name, user name or email (events about them and by them), a role, "
        "persona, space or connection name, an action (user.deactivated), an id or a "
        "request id."
    )
    show_full_result_count = False
    list_per_page = 100
    fields = (
        "created_at",
        "action",
        "actor_kind",
        "actor_name",
        "target_link",
        "target_type",
        "target_id",
        "request_id",
        "detail_pretty",
    )
    readonly_fields = fields

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return AuditChangeList

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[AuditEvent], search_term: str
    ) -> tuple[QuerySet[AuditEvent], bool]:
        return audit_search(queryset, search_term), False

    def get_urls(self) -> list[URLPattern]:
        export = path(
            "export.csv",
            self.admin_site.admin_view(self.export_view),
            name="users_auditevent_export",
        )
        return [export, *super().get_urls()]

    @admin.display(description="Actor", ordering="actor_name")
    def actor(self, obj: AuditEvent) -> str:
        return f"{obj.get_actor_kind_display()}: {obj.actor_name}"

    @admin.display(description="Target")
    def target_link(self, obj: AuditEvent) -> SafeString | str:
        if not hasattr(obj, _TARGET):  # the change page: one event, one lookup
            setattr(obj, _TARGET, audit_targets([obj]).get((obj.target_type, obj.target_id)))
        return _target_html(obj, getattr(obj, _TARGET))

    @admin.display(description="Detail")
    def summary(self, obj: AuditEvent) -> str:
        return detail_summary(obj.detail)

    @admin.display(description="Detail")
    def detail_pretty(self, obj: AuditEvent) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.detail, indent=2, sort_keys=True))

    def export_view(self, request: HttpRequest) -> StreamingHttpResponse:
        """The list as filtered and searched on the page, as CSV, streamed."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        events = self.get_changelist_instance(request).get_queryset(request)
        response = StreamingHttpResponse(
            csv_rows(events, limit=EXPORT_MAX_ROWS), content_type="text/csv; charset=utf-8"
        )
        stamp = f"{timezone.now():%Y%m%d-%H%M%S}"
        response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
        return response


class _Echo:
    """csv.writer's file: hands each written line back instead of keeping it."""

    def write(self, value: str) -> str:
        return value


def csv_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def csv_rows(events: QuerySet[AuditEvent], *, limit: int) -> Iterator[str]:
    """Header, then one line per event, names resolved a chunk at a time."""
    writer = csv.writer(_Echo())
    yield writer.writerow(
        [
            "time (UTC)",
            "action",
            "actor kind",
            "actor",
            "target type",
            "target id",
            "target",
            "request id",
            "detail",
        ]
    )
    rows = events.iterator(chunk_size=_EXPORT_CHUNK)
    written = 0
    while chunk := list(islice(rows, min(_EXPORT_CHUNK, limit + 1 - written))):
        targets = audit_targets(chunk)
        for event in chunk[: limit - written]:
            target = targets.get((event.target_type, event.target_id))
            yield writer.writerow(
                csv_cell(value)
                for value in (
                    f"{event.created_at:%Y-%m-%d %H:%M:%S}",
                    event.action,
                    event.actor_kind,
                    event.actor_name,
                    event.target_type,
                    event.target_id,
                    target.label if target else "",
                    event.request_id,
                    json.dumps(event.detail, sort_keys=True),
                )
            )
        written += len(chunk)
        if written > limit:
            yield writer.writerow([f"(stopped after {limit} rows: narrow the filter)"])
            return
