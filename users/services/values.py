"""Turning what identity providers send into the directory's typed values.

One place for it, so a SAML attribute and a SCIM value that mean the same thing are
read the same way.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import sys
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email

from axero_idp.errors import ValidationFailed
from users.models import CustomField, CustomFieldType, User

_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_SLASH_ISO_DATE = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$")
_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off"}

# The plain text attributes a service may set directly (everything else has its own
# rules: manager, custom fields, active state, password).
TEXT_FIELDS = (
    "username",
    "email",
    "first_name",
    "last_name",
    "display_name",
    "title",
    "department",
    "employee_number",
    "cost_center",
    "organization",
    "division",
    "external_id",
)
ATTRIBUTE_FIELDS = (*TEXT_FIELDS, "hire_date", "photo_url")


def _date_from_iso(text: str) -> dt.date | None:
    try:
        if "T" in text or " " in text:
            return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).date()
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def _date_from_slashes(text: str) -> dt.date | None:
    """`3/1/2024` (US) or `2024/03/01`; None when neither, or not a real day."""
    for pattern, order in ((_US_DATE, (3, 1, 2)), (_SLASH_ISO_DATE, (1, 2, 3))):
        match = pattern.match(text)
        if match:
            year, month, day = (int(match.group(i)) for i in order)
            try:
                return dt.date(year, month, day)
            except ValueError:
                return None
    return None


def parse_date(value: Any, *, field: str) -> dt.date | None:
    """A date from ISO (`2024-03-01`, `2024-03-01T00:00:00Z`) or US (`3/1/2024`) text."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        raise ValidationFailed(f"{field}: expected a date, got {type(value).__name__}")
    text = value.strip()
    parsed = _date_from_iso(text) or _date_from_slashes(text)
    if parsed is None:
        raise ValidationFailed(f"{field}: {value!r} is not a date (use YYYY-MM-DD)")
    return parsed


def parse_date_or_instant(value: Any, *, field: str) -> dt.date | dt.datetime | None:
    """A date, or an aware date-time when the value carries a time (SCIM's dateTime;
    one without an offset is read as UTC). Dates are read as by `parse_date`."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    text = value.strip() if isinstance(value, str) else ""
    if "T" in text or " " in text:
        try:
            parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return parse_date(value, field=field)  # refuses it with the usual message
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)
    return parse_date(value, field=field)


def hire_columns(
    value: dt.date | dt.datetime | None,
    *,
    stored_day: dt.date | None = None,
    stored_instant: dt.datetime | None = None,
) -> dict[str, Any]:
    """The stored `hire_date` and `hired_at` for a cleaned hire date.

    The day is the calendar day as the sender wrote it (2024-03-01T00:00:00+02:00 is
    the 1st, whatever its UTC day). A plain date that names the stored day keeps the
    stored instant: SAML often sends the day a SCIM push gave with its time, and the
    same day said with less precision is no change.
    """
    if value is None:
        return {"hire_date": None, "hired_at": None}
    if isinstance(value, dt.datetime) and value == stored_instant and stored_day is not None:
        # The same instant in another offset (SCIM renders UTC) keeps its written day.
        return {"hire_date": stored_day, "hired_at": stored_instant}
    if isinstance(value, dt.datetime):
        return {"hire_date": value.date(), "hired_at": value}
    if value == stored_day and stored_instant is not None:
        return {"hire_date": value, "hired_at": stored_instant}
    return {"hire_date": value, "hired_at": dt.datetime.combine(value, dt.time(), tzinfo=dt.UTC)}


def stored_columns(values: Mapping[str, Any], *, user: User | None = None) -> dict[str, Any]:
    """Cleaned attributes as the columns they are stored in (the hire date is two)."""
    columns = dict(values)
    if "hire_date" in columns:
        columns.update(
            hire_columns(
                columns.pop("hire_date"),
                stored_day=user.hire_date if user else None,
                stored_instant=user.hired_at if user else None,
            )
        )
    return columns


def attributes_differ(user: User, values: Mapping[str, Any]) -> dict[str, Any]:
    """The cleaned attributes whose stored columns would change (callers that skip a
    write when nothing changed compare through this, not attribute by attribute)."""
    return {
        name: value
        for name, value in values.items()
        if any(
            getattr(user, column) != stored
            for column, stored in stored_columns({name: value}, user=user).items()
        )
    }


def parse_bool(value: Any, *, field: str) -> bool:
    """A boolean, also from the strings IdPs send ("True", "false", "1")."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ValidationFailed(f"{field}: {value!r} is not a boolean")


# Past the float range a number can neither be filtered on nor, past 4,300 digits,
# even be written to jsonb ("1e5000" as text became a 5,001-digit int and a 500).
_NUMBER_LIMIT = Decimal(sys.float_info.max)


def _decimal_of(value: Any) -> Decimal | None:
    if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
        return Decimal(value)
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            return None
    return None


def _parse_number(value: Any, *, field: str) -> int | float:
    number = None if isinstance(value, bool) else _decimal_of(value)
    if number is None or not number.is_finite() or abs(number) > _NUMBER_LIMIT:
        raise ValidationFailed(f"{field}: {value!r:.40} is not a number")
    if isinstance(value, int | float):
        return value
    return int(number) if number == number.to_integral_value() else float(number)


# Bounds on custom values: a profile field is not a document store, and one oversized
# value would otherwise ride along in every read, audit record and persona query.
CUSTOM_TEXT_MAX: Final = 2000
CUSTOM_LIST_MAX_ITEMS: Final = 200
CUSTOM_LIST_ITEM_MAX: Final = 500


def _bounded_text(text: str, *, field: str, limit: int) -> str:
    if len(text) > limit:
        raise ValidationFailed(f"{field}: longer than {limit} characters")
    return text


def _parse_list(value: Any, *, field: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(
        isinstance(v, str | int | float) and not isinstance(v, bool) for v in value
    ):
        raise ValidationFailed(f"{field}: expected a list of text values")
    if len(value) > CUSTOM_LIST_MAX_ITEMS:
        raise ValidationFailed(f"{field}: more than {CUSTOM_LIST_MAX_ITEMS} values")
    return [_bounded_text(str(v), field=field, limit=CUSTOM_LIST_ITEM_MAX) for v in value]


def clean_external_id(value: Any, *, field: str = "externalId") -> str | None:
    """An external id: text of at most 255 characters, or None."""
    if value is not None and not isinstance(value, str):
        raise ValidationFailed(f"{field}: expected text")
    if value and len(value) > 255:
        raise ValidationFailed(f"{field}: longer than 255 characters")
    return value or None


def clean_custom_value(definition: CustomField, value: Any) -> Any:
    """Normalise one custom field value into its JSON form (dates as ISO text)."""
    name = f"custom.{definition.key}"
    if definition.type == CustomFieldType.STRING:
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return _bounded_text(str(value), field=name, limit=CUSTOM_TEXT_MAX)
        raise ValidationFailed(f"{name}: expected text")
    if definition.type == CustomFieldType.DATE:
        # ISO text: YYYY-MM-DD for a date, the date-time as written when it has a
        # time. Its first ten characters are always the day rules compare.
        parsed = parse_date_or_instant(value, field=name)
        return parsed.isoformat() if parsed else None
    if definition.type == CustomFieldType.NUMBER:
        return _parse_number(value, field=name)
    if definition.type == CustomFieldType.BOOLEAN:
        return parse_bool(value, field=name)
    return _parse_list(value, field=name)


def clean_custom_values(
    values: Mapping[str, Any], *, definitions: Mapping[str, CustomField] | None = None
) -> dict[str, Any]:
    """Validate custom values against their definitions; None means "remove"."""
    if not values:
        # Most creates carry no custom value: skip building the (empty) definitions query.
        return {}
    if definitions is None:
        definitions = {f.key: f for f in CustomField.objects.filter(key__in=list(values))}
    cleaned: dict[str, Any] = {}
    for key, value in values.items():
        definition = definitions.get(key)
        if definition is None:
            raise ValidationFailed(f"custom.{key}: no such custom profile field")
        cleaned[key] = (
            None if value is None or value == "" else clean_custom_value(definition, value)
        )
    return cleaned


def custom_values_merged(stored: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """The stored custom values with `values` validated and applied (None removes a key).

    A date field given a plain date that names the stored day keeps the stored
    date-time (the same day with less precision is no change; see hire_columns).
    """
    definitions = {f.key: f for f in CustomField.objects.filter(key__in=list(values))}
    merged = dict(stored)
    for key, value in clean_custom_values(values, definitions=definitions).items():
        if value is None:
            merged.pop(key, None)
        elif not (
            definitions[key].type == CustomFieldType.DATE
            and _date_text_keeps(merged.get(key), value)
        ):
            merged[key] = value
    return merged


def _date_text_keeps(current: Any, new: str) -> bool:
    """Does a stored date custom value stay when `new` arrives? Yes for the same
    instant written otherwise (a plain date is midnight UTC) and for a plain date
    naming the stored day."""
    if not isinstance(current, str):
        return False
    if len(new) == 10 and current.startswith(f"{new}T"):
        return True
    try:
        return _instant_of(current) == _instant_of(new)
    except ValidationFailed:  # a value stored before dates were checked
        return False


def _instant_of(text: str) -> dt.datetime:
    value = parse_date_or_instant(text, field="date")
    assert value is not None  # stored and cleaned values are never empty
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.combine(value, dt.time(), tzinfo=dt.UTC)


def _username_check(text: str) -> None:
    if not text:
        raise ValidationFailed("username: required")


def _email_check(text: str) -> None:
    if text:
        try:
            validate_email(text)
        except DjangoValidationError as exc:
            raise ValidationFailed(f"email: {text!r} is not an email address") from exc


def _photo_url_check(text: str) -> None:
    if text and not text.lower().startswith(("https://", "http://")):
        raise ValidationFailed("photo_url: must be an http(s) URL")


_TEXT_CHECKS: Final[Mapping[str, Callable[[str], None]]] = {
    "username": _username_check,
    "email": _email_check,
    "photo_url": _photo_url_check,
}


def _absent_attribute(name: str) -> str | None:
    """What clearing an attribute stores: NULL for the external id (it is unique when
    set), empty text for the others; a username cannot be cleared."""
    if name == "username":
        raise ValidationFailed("username: required")
    return None if name == "external_id" else ""


def _text_attribute(name: str, value: Any) -> str | None:
    if value is None:
        return _absent_attribute(name)
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ValidationFailed(f"{name}: expected text")
    text = str(value).strip()
    max_length = getattr(User._meta.get_field(name), "max_length", None) or 0
    if len(text) > max_length:
        raise ValidationFailed(f"{name}: longer than {max_length} characters")
    check = _TEXT_CHECKS.get(name)
    if check is not None:
        check(text)
    if name == "external_id" and not text:
        return None
    return text


def clean_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Validate the plain attributes a service sets: known names, lengths, email, dates."""
    cleaned: dict[str, Any] = {}
    for name, value in attributes.items():
        if name not in ATTRIBUTE_FIELDS:
            raise ValidationFailed(f"{name}: not a directory attribute")
        if name == "hire_date":
            cleaned[name] = parse_date_or_instant(value, field=name)
        else:
            cleaned[name] = _text_attribute(name, value)
    return cleaned
