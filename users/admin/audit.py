"""The audit trail, read-only: support reads it, nobody edits it."""

from __future__ import annotations

import json

from django.contrib import admin
from django.utils.html import format_html

from users.admin.common import ReadOnlyAdmin
from users.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "action",
        "actor_kind",
        "actor_name",
        "target_type",
        "target_id",
        "request_id",
    )
    list_filter = ("action", "actor_kind", "target_type", ("created_at", admin.DateFieldListFilter))
    search_fields = ("=target_id", "=request_id", "actor_name", "action")
    date_hierarchy = "created_at"
    show_full_result_count = False
    list_per_page = 100
    readonly_fields = (
        "created_at",
        "action",
        "actor_kind",
        "actor_name",
        "target_type",
        "target_id",
        "request_id",
        "detail_pretty",
    )
    exclude = ("detail",)

    @admin.display(description="Detail")
    def detail_pretty(self, obj: AuditEvent) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.detail, indent=2, sort_keys=True))
