"""sortBy / sortOrder (RFC 7644 §3.4.2.3), always ending with the id.

The id tiebreaker makes the order total, so `startIndex` pages never repeat or skip a
resource. Without sortBy the order is (created_at, id): the index
users_user_created_idx / users_role_created_idx serves it, so the first page of
100,000 users is an index scan, not a sort.
"""

from __future__ import annotations

from typing import Any

from django.db.models import F, OrderBy, QuerySet
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import Collate, Lower

from scim.attributes import (
    DATE,
    GROUP,
    NUMBER,
    STRING,
    USER,
    AttrSpec,
    InvalidFilter,
    attributes_of,
    column_nullable,
)
from scim.filters.parser import Parser
from users.models import Role, User
from users.selectors import LazyCustomFields

# A multi-valued attribute sorts by its (primary) value: the one stored column.
_MULTI_VALUED_SORT = {"emails": "emails.value", "photos": "photos.value"}


def _sort_keys(resource: str, text: str) -> tuple[tuple[Any, ...], bool]:
    """(sort expressions, whether they can be null) for a sortBy attribute."""
    fields = LazyCustomFields()
    spec, value_filter, sub_attr = Parser(resource, text, custom_fields=fields).parse_path()
    if value_filter is not None or sub_attr is not None:
        raise InvalidFilter(f"sortBy {text!r}: name one attribute, without a filter")
    primary_value = _MULTI_VALUED_SORT.get(spec.key.removesuffix(".value"))
    if primary_value is not None:
        spec = attributes_of(resource)[primary_value]
    elif not spec.sortable and spec.custom_type is None:
        raise InvalidFilter(f"sortBy {text!r}: not a single-valued attribute that can be sorted")
    return _expressions(resource, spec, text)


def _expressions(resource: str, spec: AttrSpec, text: str) -> tuple[tuple[Any, ...], bool]:
    if spec.custom_type is not None:
        # KeyTransform(key, "custom"), not "custom__<key>": a key may contain "__".
        if spec.kind == NUMBER:
            return (KeyTransform(spec.name, "custom"),), True  # jsonb orders numbers numerically
        if spec.kind == DATE:
            return (Collate(KeyTextTransform(spec.name, "custom"), "C"),), True
        if spec.kind == STRING:
            return (Lower(KeyTextTransform(spec.name, "custom")),), True
        raise InvalidFilter(f"sortBy {text!r}: a {spec.kind} attribute cannot be sorted")
    if spec.key == "name.formatted":
        return (Lower(F("first_name")), Lower(F("last_name"))), False
    if spec.column is None:
        raise InvalidFilter(f"sortBy {text!r}: this attribute is not stored and cannot be sorted")
    nullable = column_nullable(resource, spec.column)
    if spec.kind == STRING and not spec.case_exact:
        # The Lower() indexes serve userName (users) and displayName (groups).
        return (Lower(F(spec.column)),), nullable
    return (F(spec.column),), nullable


def _order(
    queryset: QuerySet, resource: str, sort_by: str | None, sort_order: str | None
) -> QuerySet:
    order = (sort_order or "ascending").strip().lower()
    if order not in ("ascending", "descending"):
        raise InvalidFilter(f"sortOrder {sort_order!r}: use ascending or descending")
    descending = order == "descending"
    keys: tuple[Any, ...] = (F("created_at"),)
    nullable = False
    if sort_by is not None and sort_by.strip():
        keys, nullable = _sort_keys(resource, sort_by.strip())
    # Unassigned values come last in either direction. NULLS LAST is only spelled out
    # when a value can be null: on a NOT NULL column it would stop PostgreSQL from
    # reading a descending order off the index.
    nulls_last = True if nullable else None
    ordering: list[OrderBy] = [
        key.desc(nulls_last=nulls_last) if descending else key.asc(nulls_last=nulls_last)
        for key in keys
    ]
    ordering.append(F("id").desc() if descending else F("id").asc())
    return queryset.order_by(*ordering)


def order_users(
    queryset: QuerySet[User], sort_by: str | None, sort_order: str | None
) -> QuerySet[User]:
    """Users in SCIM sortBy/sortOrder order, then by id; (created, id) by default."""
    return _order(queryset, USER, sort_by, sort_order)


def order_groups(
    queryset: QuerySet[Role], sort_by: str | None, sort_order: str | None
) -> QuerySet[Role]:
    """Groups in SCIM sortBy/sortOrder order, then by id; (created, id) by default."""
    return _order(queryset, GROUP, sort_by, sort_order)
