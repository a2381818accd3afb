"""Admin: attributes identity providers sent that map to no field, per connection, with
what defines the field (a button for SCIM extension attributes)."""

from __future__ import annotations

import re
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from axero_idp.errors import ApplicationError
from users.models import CustomFieldType, UnmappedAttribute
from users.services import Actor, attribute_unmapped_forget, custom_field_define

# The product extension and the vendors' own ("urn:...:extension:{Company}:2.0:User")
# carry custom fields: their last segment is the field's key.
_EXTENSION_ATTRIBUTE = re.compile(r"^urn:[^ ]*:extension:[^:]+:2\.0:User:([A-Za-z][\w-]{0,63})$")


def custom_key_for(row: UnmappedAttribute) -> str | None:
    """The custom field key that would receive this attribute, where one can."""
    if row.protocol == UnmappedAttribute.Protocol.SCIM:
        match = _EXTENSION_ATTRIBUTE.match(row.name)
        return match.group(1) if match else None
    key = re.sub(r"[^\w-]", "_", row.name.rsplit("/", 1)[-1].rsplit(".", 1)[-1])
    return key[:64] if key[:1].isalpha() else None


@admin.register(UnmappedAttribute)
class UnmappedAttributeAdmin(admin.ModelAdmin):
    list_display = ("name", "protocol", "connection", "last_seen", "first_seen", "how_to_map")
    list_filter = ("connection", "protocol")
    list_select_related = ("connection",)  # how_to_map names it on every row
    search_fields = ("name",)
    actions = ["define_text_fields"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # recorded from what identity providers send, never typed in

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="How to map it")
    def how_to_map(self, obj: UnmappedAttribute) -> str:
        key = custom_key_for(obj)
        if obj.protocol == UnmappedAttribute.Protocol.SCIM:
            if key is None:
                return "Not kept by the directory (a core attribute it has no field for)."
            return format_html(
                "Define the custom field: <code>manage.py custom_field add {} --type string</code> "
                "(or select it and use the action).",
                key,
            )
        slug = obj.connection.slug if obj.connection else "SLUG"
        return format_html(
            "Map it on the identity provider <code>{}</code>: attribute map "
            '<code>"custom.{}": ["{}"]</code> (after <code>custom_field add {}</code>), or '
            "to a built-in field.",
            slug,
            key or "KEY",
            obj.name,
            key or "KEY",
        )

    @admin.action(description="Define selected SCIM extension attributes as text custom fields")
    def define_text_fields(
        self, request: HttpRequest, queryset: QuerySet[UnmappedAttribute]
    ) -> None:
        defined, skipped = [], []
        for row in queryset.filter(protocol=UnmappedAttribute.Protocol.SCIM):
            key = custom_key_for(row)
            if key is None:
                skipped.append(row.name)
                continue
            try:
                custom_field_define(
                    key=key, type=CustomFieldType.STRING, actor=Actor.admin(request.user)
                )
            except ApplicationError as exc:
                skipped.append(f"{row.name} ({exc.detail})")
                continue
            defined.append(key)
            attribute_unmapped_forget(row=row)
        if defined:
            self.message_user(request, f"Defined: {', '.join(sorted(set(defined)))}.")
        if skipped:
            self.message_user(
                request, f"Not defined: {', '.join(skipped)}.", level=messages.WARNING
            )
