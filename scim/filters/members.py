"""The values of multi-valued attributes, as the directory stores them.

A value filter (`emails[type eq "work"]`, `members[value eq "id"]`) is compiled against
one "item context": where each sub-attribute lives, and how to say "some value of this
attribute matches" (a column that is not empty for the single work email; an EXISTS on
the membership table for groups and members, so a 50,000-member group never multiplies
rows).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, Q, Value
from django.db.models.functions import Coalesce, NullIf

from axero_idp.errors import ValidationFailed
from scim.attributes import BOOLEAN, REFERENCE, STRING, UUID, InvalidFilter
from scim.filters.ast import And, Compare, FilterNode, Not, Or, ValuePath
from scim.filters.lookups import Condition, Target, compile_compare
from users.models import MembershipSource, RoleMembership
from users.services.values import parse_bool


@dataclass(frozen=True)
class ItemContext:
    subs: Mapping[str, Target]
    # Turns "this item matches" into "some value of the attribute matches".
    some: Callable[[Condition], Condition]


def _not_empty(column: str) -> Callable[[Condition], Condition]:
    def some(condition: Condition) -> Condition:
        return combine_and(~Q(**{column: ""}), condition)

    return some


def _exists(relation: str, **only: str) -> Callable[[Condition], Condition]:
    def some(condition: Condition) -> Condition:
        if condition is False:
            return False
        memberships = RoleMembership.objects.filter(**{relation: OuterRef("pk")}, **only)
        if condition is not True:
            memberships = memberships.filter(condition)
        return Q(Exists(memberships))

    return some


def _member_display(prefix: str) -> Any:
    # What a member's "display" is: the display name, else the username.
    return Coalesce(NullIf(f"{prefix}display_name", Value("")), f"{prefix}username")


_EMAILS = ItemContext(
    subs={
        "value": Target("value", STRING, "email"),
        "display": Target("display", STRING, "email"),
        "type": Target("type", STRING, fixed=("work",)),
        "primary": Target("primary", BOOLEAN, fixed=(True,)),
    },
    some=_not_empty("email"),
)
_PHOTOS = ItemContext(
    subs={
        "value": Target("value", REFERENCE, "photo_url", case_exact=True),
        "display": Target("display", STRING, stored=False),
        "type": Target("type", STRING, fixed=("photo",)),
        "primary": Target("primary", BOOLEAN, fixed=(True,)),
    },
    some=_not_empty("photo_url"),
)
_GROUPS = ItemContext(
    subs={
        "value": Target("value", UUID, "role_id", case_exact=True),
        "display": Target("display", STRING, "role__display_name"),
        "type": Target("type", STRING, fixed=("direct",)),
        "$ref": Target("$ref", REFERENCE, filterable=False),
    },
    some=_exists("user"),
)
_MEMBERS = ItemContext(
    subs={
        "value": Target("value", UUID, "user_id", case_exact=True),
        "display": Target("display", STRING, _member_display("user__")),
        "type": Target("type", STRING, fixed=("User",)),
        "$ref": Target("$ref", REFERENCE, filterable=False),
    },
    # A group's members are its SCIM-granted ones, as GET renders them: SAML- and
    # admin-granted memberships are not the IdP's to see, in a filter either.
    some=_exists("role", source=MembershipSource.SCIM),
)
# The members of a group seen from the User table (for PATCH members[...] paths).
_MEMBER_USERS = ItemContext(
    subs={
        "value": Target("value", UUID, "id", case_exact=True),
        "display": Target("display", STRING, _member_display("")),
        "type": Target("type", STRING, fixed=("User",)),
        "$ref": Target("$ref", REFERENCE, filterable=False),
    },
    some=lambda condition: condition,
)

USER_ITEMS = {"emails": _EMAILS, "photos": _PHOTOS, "groups": _GROUPS}
GROUP_ITEMS = {"members": _MEMBERS}


def combine_and(left: Condition, right: Condition) -> Condition:
    if left is False or right is False:
        return False
    if left is True:
        return right
    if right is True:
        return left
    return left & right


def combine_or(left: Condition, right: Condition) -> Condition:
    if left is True or right is True:
        return True
    if left is False:
        return right
    if right is False:
        return left
    return left | right


def negate(condition: Condition) -> Condition:
    return (not condition) if isinstance(condition, bool) else ~condition


def compile_items(context: ItemContext, node: FilterNode) -> Condition:
    """The condition "some value matches `node`" (node names sub-attributes)."""
    return context.some(_compile_item(context, node))


def _compile_item(context: ItemContext, node: FilterNode) -> Condition:
    if isinstance(node, Compare):
        return compile_compare(context.subs[node.attr], node.op, node.value)
    if isinstance(node, And):
        return combine_and(_compile_item(context, node.left), _compile_item(context, node.right))
    if isinstance(node, Or):
        return combine_or(_compile_item(context, node.left), _compile_item(context, node.right))
    if isinstance(node, Not):
        return negate(_compile_item(context, node.node))
    raise InvalidFilter("a value filter cannot contain another value filter")


def member_filter_q(node: FilterNode) -> Q:
    """A Q over User for the members a `members[...]` value filter selects."""
    condition = compile_items(_MEMBER_USERS, node)
    if condition is True:
        return Q(pk__isnull=False)
    if condition is False:
        return Q(pk__in=[])
    return condition


def value_matches(node: FilterNode, item: Mapping[str, Any]) -> bool:
    """Does one complex value (a dict from a request body) match a value filter?

    For small lists held in memory. Sub-attribute names and text compare
    case-insensitively; a value of the wrong type never matches.
    """
    if isinstance(node, And):
        return value_matches(node.left, item) and value_matches(node.right, item)
    if isinstance(node, Or):
        return value_matches(node.left, item) or value_matches(node.right, item)
    if isinstance(node, Not):
        return not value_matches(node.node, item)
    if isinstance(node, ValuePath):
        raise InvalidFilter("a value filter cannot contain another value filter")
    return _compare_matches(node, item)


def _compare_matches(node: Compare, item: Mapping[str, Any]) -> bool:
    lowered = {str(key).lower(): value for key, value in item.items()}
    actual = lowered.get(node.attr.lower())
    if node.op == "pr":
        return actual not in (None, "", [], {})
    if node.value is None:
        absent = actual in (None, "", [], {})
        return absent if node.op == "eq" else not absent
    return _matches(actual, node.op, node.value)


def _matches(actual: Any, op: str, expected: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return _boolean_matches(actual, op, expected)
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return _ordered(op, actual, expected)
    if isinstance(expected, str) and isinstance(actual, str):
        return _text_matches(actual.lower(), op, expected.lower())
    return op == "ne"


def _boolean_matches(actual: Any, op: str, expected: Any) -> bool:
    try:
        left, right = parse_bool(actual, field="value"), parse_bool(expected, field="value")
    except ValidationFailed:  # a non-boolean simply does not match
        return op == "ne"
    if op in ("eq", "ne"):
        return (left == right) == (op == "eq")
    return False


def _text_matches(left: str, op: str, right: str) -> bool:
    if op == "co":
        return right in left
    if op == "sw":
        return left.startswith(right)
    if op == "ew":
        return left.endswith(right)
    return _ordered(op, left, right)


def _ordered(op: str, left: Any, right: Any) -> bool:
    results = {
        "eq": left == right,
        "ne": left != right,
        "gt": left > right,
        "ge": left >= right,
        "lt": left < right,
        "le": left <= right,
    }
    return results.get(op, False)
