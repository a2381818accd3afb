"""SCIM filters (RFC 7644 §3.4.2.2) and sorting, compiled to database queries.

`filter_users(User.objects.all(), 'userName eq "bjensen"')` parses the filter with a
bounded recursive-descent parser (scim.filters.parser), compiles it into one Q
(scim.filters.compile) and filters the queryset: rows are never loaded to decide.
"""

from scim.attributes import InvalidFilter
from scim.filters.ast import And, Compare, FilterNode, Not, Or, ValuePath
from scim.filters.compile import filter_groups, filter_users
from scim.filters.ordering import order_groups, order_users
from scim.filters.parser import parse_filter

__all__ = [
    "And",
    "Compare",
    "FilterNode",
    "InvalidFilter",
    "Not",
    "Or",
    "ValuePath",
    "filter_groups",
    "filter_users",
    "order_groups",
    "order_users",
    "parse_filter",
]
