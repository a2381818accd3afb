"""Paging parameters and If-Match / If-None-Match, shared by every resource type."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from django.db.models import QuerySet

from axero_idp.errors import PreconditionFailed, ValidationFailed

DEFAULT_COUNT: Final = 100
MAX_COUNT: Final = 1000
# Far past any directory's size, and well inside PostgreSQL's OFFSET range.
MAX_START_INDEX: Final = 2**31


@dataclass(frozen=True)
class Query:
    """A list or .search request: filter, order, page (RFC 7644 §3.4.2)."""

    filter: str | None
    sort_by: str | None
    sort_order: str | None
    start_index: int
    count: int
    attributes: list[str]
    excluded: list[str]


def _int(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    # A .search body may carry 1.5, which int() would silently truncate. (NaN and
    # Infinity are refused when the body is parsed; OverflowError is the last guard.)
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValidationFailed(f"{name}: expected an integer, got {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValidationFailed(f"{name}: expected an integer, got {value!r:.40}") from exc


def _names(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value if v.strip()]
    raise ValidationFailed(f"{name}: expected a list of attribute names")


def query_from(source: Mapping[str, Any]) -> Query:
    """From query parameters (GET) or a SearchRequest body (POST .search)."""
    # A SearchRequest's attribute names are case-insensitive (RFC 7643 §2.1).
    params = {str(key).lower(): value for key, value in source.items()}
    start = _int(params.get("startindex"), "startIndex")
    count = _int(params.get("count"), "count")
    text = _text(params.get("filter"), "filter")
    return Query(
        filter=text.strip() if text and text.strip() else None,
        sort_by=_text(params.get("sortby"), "sortBy") or None,
        sort_order=_sort_order(params.get("sortorder")),
        # RFC 7644 §3.4.2.4: a startIndex below 1 is taken as 1; a negative count as 0.
        start_index=min(MAX_START_INDEX, max(1, start if start is not None else 1)),
        count=min(MAX_COUNT, max(0, count if count is not None else DEFAULT_COUNT)),
        attributes=_names(params.get("attributes"), "attributes"),
        excluded=_names(params.get("excludedattributes"), "excludedAttributes"),
    )


def _text(value: Any, name: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValidationFailed(f"{name}: expected text")
    return value


def _sort_order(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value.lower() not in ("ascending", "descending"):
        raise ValidationFailed("sortOrder: ascending or descending")
    return value.lower()


def _tags(header: str) -> list[str]:
    return [tag.strip() for tag in header.split(",") if tag.strip()]


def _same(tag: str, current: str) -> bool:
    # Weak comparison (RFC 9110 §8.8.3.2): W/"3" and "3" name the same version.
    return tag == "*" or tag.removeprefix("W/") == current.removeprefix("W/")


def check_if_match(header: str | None, current: str) -> None:
    """412 when If-Match names another version than the current one."""
    if header and not any(_same(tag, current) for tag in _tags(header)):
        raise PreconditionFailed(
            f"The resource has changed: its version is {current}, not {header}."
        )


def not_modified(header: str | None, current: str) -> bool:
    return bool(header) and any(_same(tag, current) for tag in _tags(header or ""))


def page_of(queryset: QuerySet[Any, Any], query: Query) -> tuple[list[Any], int]:
    """The requested page and the total number of matches.

    The page is fetched first: when it is not full and something (or nothing, from
    the start) was found, its end is the total and the COUNT is skipped, which is
    every IdP look-up (`userName eq "x"`). Otherwise the total is a real COUNT.
    """
    first = query.start_index - 1
    page = list(queryset[first : first + query.count]) if query.count else []
    if query.count and len(page) < query.count and (page or first == 0):
        return page, first + len(page)
    return page, queryset.count()
