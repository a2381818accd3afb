"""Before and after of an admin save, for its audit record: the fields the form changed,
as JSON values; a secret field is named as changed, its values never written."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from django.core.exceptions import FieldDoesNotExist
from django.db import models

REDACTED: Final = "[redacted]"
# A field whose name holds one of these is a secret (a token's hash, an encrypted
# private key, a password): the audit says it changed, never what to.
_SECRET_MARKERS: Final = ("password", "private_key", "hash", "secret")

Summary = Callable[[Any], Any]


def is_secret(name: str) -> bool:
    return any(marker in name for marker in _SECRET_MARKERS)


def json_value(value: Any) -> Any:
    """A value as the audit trail's JSON keeps it."""
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, models.Model):
        return str(value.pk)
    return value


def admin_changes(
    before: models.Model | None,
    after: models.Model,
    fields: Iterable[str],
    *,
    summaries: Mapping[str, Summary] | None = None,
) -> dict[str, list[Any]]:
    """{field: [before, after]} for each named concrete field whose value differs
    (before None: a new object, every named field from None)."""
    changes: dict[str, list[Any]] = {}
    for name in fields:
        field = _concrete(after, name)
        if field is None:
            continue
        old = field.value_from_object(before) if before is not None else None
        new = field.value_from_object(after)
        if before is None or old != new:
            changes[name] = _pair(name, old, new, (summaries or {}).get(name, json_value))
    return changes


def _pair(name: str, old: Any, new: Any, summary: Summary) -> list[Any]:
    if is_secret(name):
        return [REDACTED if old else None, REDACTED if new else None]
    return [None if old is None else summary(old), summary(new)]


def _concrete(obj: models.Model, name: str) -> models.Field[Any, Any] | None:
    try:
        field = obj._meta.get_field(name)
    except FieldDoesNotExist:  # a form-only field (the custom profile fields)
        return None
    if not isinstance(field, models.Field) or field.many_to_many or not field.concrete:
        return None
    return field
