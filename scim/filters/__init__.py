"""SCIM filters (RFC 7644 §3.4.2.2) and sorting, compiled to database queries.

`filter_users(User.objects.all(), 'userName eq "bjensen"')` parses the filter with a
bounded recursive-descent parser (scim.filters.parser), compiles it into one Q
(scim.filters.compile) and filters the queryset: rows are never loaded to decide.

Decisions worth knowing:
- caseExact=false text (userName, emails, displayName, name parts, title, enterprise
  text, custom text fields) compares LOWER(column) with LOWER(value); `eq` on userName,
  emails and group displayName is served by their Lower() indexes. externalId, id and
  photo URLs are case-exact.
- The directory keeps one work email and one photo: `emails[type eq "work"]` and
  `emails[primary eq true]` match any user who has an email, other types match nothing.
- Standard attributes the directory does not keep (nickName, phoneNumbers, locale, ...)
  are never assigned: `eq`, `co`, `pr` ... match nothing and `ne` matches everyone.
  They are accepted rather than refused because IdPs send them in lookups.
- `groups` (on users) and `members` (on groups) compile to EXISTS on the membership
  table, so a 50,000-member group never multiplies rows.
- Custom fields compare by their defined type: numbers numerically, dates as dates,
  booleans as booleans; `eq` on a list field means "contains" and is case-exact (JSON
  containment, served by the GIN index); list fields support only eq, ne and pr.
- `gt`/`lt`/`co` on booleans, `co`/`sw`/`ew` on dates and numbers, a value of the wrong
  type, an unknown attribute or schema: 400 invalidFilter naming what was wrong.
- Sorting ends with the id, so pages are stable; unassigned values sort last.
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
