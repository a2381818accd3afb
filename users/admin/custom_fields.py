"""Admin for custom profile fields: defined once, relabelled later, type fixed."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from users.models import CustomField
from users.services import Actor, custom_field_define


@admin.register(CustomField)
class CustomFieldAdmin(admin.ModelAdmin):
    list_display = ("key", "label", "type", "public", "created_at")
    list_filter = ("public",)
    search_fields = ("key", "label")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # Stored values follow the type and persona rules follow the key: both are fixed.
        return ("key", "type", "created_at") if obj is not None else ("created_at",)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: CustomField, form: Any, change: bool) -> None:
        field, _ = custom_field_define(
            key=obj.key,
            type=obj.type,
            label=obj.label,
            public=obj.public,
            actor=Actor.admin(request.user),
        )
        obj.pk, obj._state.adding = field.pk, False
