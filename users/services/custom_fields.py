"""Defining admin-owned custom profile fields."""

from __future__ import annotations

import re

from django.db import IntegrityError, transaction

from axero_idp.errors import UniquenessConflict, ValidationFailed, raise_for_unique_field
from users.models import CustomField, CustomFieldType
from users.services.actors import Actor
from users.services.audit import audit_record

_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


@transaction.atomic
def custom_field_define(
    *, key: str, type: str, label: str = "", public: bool | None = None, actor: Actor
) -> tuple[CustomField, bool]:
    """Define a custom field, or relabel it or change whether profiles show it (public;
    None keeps it); idempotent. Returns (field, created).

    Changing the type of an existing field is refused: stored values would no longer
    match it.
    """
    if not _KEY.match(key or ""):
        raise ValidationFailed(
            f"key {key!r}: start with a letter; letters, digits, _ and - only; at most 64"
        )
    if type not in CustomFieldType.values:
        raise ValidationFailed(f"type {type!r}: one of {', '.join(CustomFieldType.values)}")
    label = (label or "").strip() or key.replace("_", " ").capitalize()
    existing = CustomField.objects.select_for_update().filter(key=key).first()
    if existing is not None:
        if existing.type != type:
            raise UniquenessConflict(
                f"custom field {key!r} exists with type {existing.type}; its type cannot change"
            )
        return _custom_field_change(existing, label=label, public=public, actor=actor), False
    try:
        with transaction.atomic():
            field = CustomField.objects.create(key=key, type=type, label=label, public=bool(public))
    except IntegrityError as exc:
        raise_for_unique_field(
            exc,
            model=CustomField,
            field="key",
            detail=f"custom field {key!r} was defined concurrently",
        )
    audit_record(
        actor=actor,
        action="custom_field.defined",
        target=field,
        target_id=key,
        detail={"type": type, "label": label, "public": field.public},
    )
    return field, True


def _custom_field_change(
    field: CustomField, *, label: str, public: bool | None, actor: Actor
) -> CustomField:
    wanted = {"label": label, "public": field.public if public is None else public}
    changes = {
        name: [getattr(field, name), value]
        for name, value in wanted.items()
        if getattr(field, name) != value
    }
    if not changes:
        return field
    for name, (_, value) in changes.items():
        setattr(field, name, value)
    field.save(update_fields=list(changes))
    audit_record(
        actor=actor,
        action="custom_field.relabelled" if list(changes) == ["label"] else "custom_field.changed",
        target=field,
        target_id=field.key,
        detail=changes,
    )
    return field
