"""PATCH paths (RFC 7644 §3.5.2): `attrPath [ "[" valFilter "]" [ subAttr ] ]`.

A Path names its attribute by canonical key (scim.attributes). For a sub-attribute of a
multi-valued attribute, `attr` is the multi-valued attribute and `sub_attr` the
sub-attribute ("emails.value" and `emails[type eq "work"].value` are both
attr="emails", sub_attr="value"), because PATCH works on the values of the list. A
sub-attribute of a single-valued complex attribute keeps its dotted key
("name.givenName" is attr="name.givenname", sub_attr=None), because it is one field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django.db.models import Q

from scim.attributes import COMPLEX, InvalidPath, attributes_of
from scim.filters.ast import Compare, FilterNode, Or
from scim.filters.members import member_filter_q, value_matches
from scim.filters.parser import Parser
from users.models import CustomField

__all__ = [
    "InvalidPath",
    "Path",
    "member_ids_selected",
    "members_filter_q",
    "parse_path",
    "value_matches",
]


@dataclass(frozen=True)
class Path:
    attr: str
    sub_attr: str | None = None
    value_filter: FilterNode | None = None


def parse_path(
    resource: str, text: str, *, custom_fields: Mapping[str, CustomField] | None = None
) -> Path:
    """The Path of a PATCH operation on "User" or "Group"; raises InvalidPath."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidPath("path is empty")
    spec, value_filter, sub_attr = Parser(
        resource, text, error=InvalidPath, custom_fields=custom_fields
    ).parse_path()
    attr = spec.key
    parent, dot, sub = attr.rpartition(".")
    if dot and sub_attr is None:
        parent_spec = attributes_of(resource).get(parent)
        if parent_spec is not None and parent_spec.multi_valued:
            attr, sub_attr = parent, sub
    if value_filter is not None and spec.kind == COMPLEX and not spec.multi_valued:
        raise InvalidPath(f"{text!r}: a value filter needs a multi-valued attribute")
    return Path(attr=attr, sub_attr=sub_attr, value_filter=value_filter)


def member_ids_selected(node: FilterNode) -> set[str] | None:
    """{"a", "b"} for `value eq "a" or value eq "b"`; None for any other filter shape.

    Lets a PATCH remove `members[value eq "id"]` by key, without a query.
    """
    if isinstance(node, Compare):
        if node.attr == "value" and node.op == "eq" and isinstance(node.value, str):
            return {node.value}
        return None
    if isinstance(node, Or):
        left = member_ids_selected(node.left)
        right = member_ids_selected(node.right)
        if left is None or right is None:
            return None
        return left | right
    return None


def members_filter_q(node: FilterNode) -> Q:
    """A Q over User selecting the members a `members[...]` filter names.

    `value` is the user id, `display` the member's display (display name, else the
    username), `type` is always "User". A filter that can match nobody gives a Q that
    matches nobody.
    """
    return member_filter_q(node)
