"""Defining admin-owned custom profile fields."""

from __future__ import annotations

import re

from django.db import IntegrityError, transaction

from axero_idp.errors import UniquenessConflict, ValidationFailed
from users.models import CustomField, CustomFieldType
from users.services.actors import Actor
from users.services.audit import audit_record

_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


@transaction.atomic
def custom_field_define(
    *, key: str, type: str, label: str = "", actor: Actor
) -> tuple[CustomField, bool]:
    """Define a custom field, or relabel it; idempotent. Returns (field, created).

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
        if existing.label == label:
            return existing, False
        before = existing.label
        existing.label = label
        existing.save(update_fields=["label"])
        audit_record(
            actor=actor,
            action="custom_field.relabelled",
            target=existing,
            target_id=key,
            detail={"label": [before, label]},
        )
        return existing, False
    try:
        with transaction.atomic():
            field = CustomField.objects.create(key=key, type=type, label=label)
    except IntegrityError as exc:
        raise UniquenessConflict(f"custom field {key!r} was defined concurrently") from exc
    audit_record(
        actor=actor,
        action="custom_field.defined",
        target=field,
        target_id=key,
        detail={"type": type, "label": label},
    )
    return field, True
