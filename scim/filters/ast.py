"""The syntax tree of a SCIM filter (RFC 7644 §3.4.2.2).

Attribute names in the tree are already canonical (scim.attributes): a top-level
comparison names a canonical key ("username", "emails.value", "axero:hiredate"); a
comparison inside a value path names the lower-cased sub-attribute ("type", "value")
of the ValuePath's attribute.
"""

from __future__ import annotations

from dataclasses import dataclass

Literal = str | int | float | bool | None

OPERATORS = ("eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr")
ORDERING_OPERATORS = ("gt", "ge", "lt", "le")
TEXT_OPERATORS = ("co", "sw", "ew")


@dataclass(frozen=True)
class Compare:
    attr: str
    op: str  # one of OPERATORS, lower-cased
    value: Literal = None  # None for "pr" (and for a comparison with null)


@dataclass(frozen=True)
class And:
    left: FilterNode
    right: FilterNode


@dataclass(frozen=True)
class Or:
    left: FilterNode
    right: FilterNode


@dataclass(frozen=True)
class Not:
    node: FilterNode


@dataclass(frozen=True)
class ValuePath:
    """`emails[type eq "work"]`: some value of a multi-valued attribute matches."""

    attr: str
    filter: FilterNode


FilterNode = Compare | And | Or | Not | ValuePath
