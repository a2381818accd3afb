"""Compiling a filter's syntax tree into one database condition (a Django Q).

Nothing here loads rows: every comparison becomes SQL, a value path on groups or
members becomes an EXISTS, and parts whose answer does not depend on the row (a fixed
value, an attribute the directory does not keep) fold into True or False before the
query is built.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db.models import QuerySet, Value
from django.db.models.functions import Concat, Trim

from scim.attributes import (
    COMPLEX,
    GROUP,
    USER,
    AttrSpec,
    InvalidFilter,
    attributes_of,
    builtin_attr_spec,
    column_nullable,
    custom_attr_spec,
)
from scim.filters.ast import And, Compare, FilterNode, Not, Or, ValuePath
from scim.filters.lookups import Condition, Target, compile_compare
from scim.filters.members import (
    GROUP_ITEMS,
    USER_ITEMS,
    ItemContext,
    combine_and,
    combine_or,
    compile_items,
    negate,
)
from scim.filters.parser import Parser
from users.models import CustomField, Role, User
from users.selectors import LazyCustomFields


class Compiler:
    def __init__(self, resource: str, custom_fields: Mapping[str, CustomField]) -> None:
        self.resource = resource
        self.specs = attributes_of(resource)
        self.items = USER_ITEMS if resource == USER else GROUP_ITEMS
        self.custom_fields = custom_fields

    def compile(self, node: FilterNode) -> Condition:
        if isinstance(node, And):
            return combine_and(self.compile(node.left), self.compile(node.right))
        if isinstance(node, Or):
            return combine_or(self.compile(node.left), self.compile(node.right))
        if isinstance(node, Not):
            return negate(self.compile(node.node))
        if isinstance(node, ValuePath):
            return self._value_path(node)
        return self._compare(node)

    def _spec(self, key: str) -> AttrSpec:
        spec = builtin_attr_spec(self.resource, key)
        if spec is None and key.startswith("axero:"):
            field = self.custom_fields.get(key.removeprefix("axero:"))
            if field is not None:
                spec = custom_attr_spec(field)
        if spec is None:  # pragma: no cover - the parser resolved every name
            raise InvalidFilter(f"unknown attribute {key!r}")
        return spec

    def _items(self, spec: AttrSpec) -> ItemContext | None:
        return self.items.get(spec.key)

    def _value_path(self, node: ValuePath) -> Condition:
        spec = self._spec(node.attr)
        if not spec.multi_valued:
            # name[givenName eq "x"] is name.givenName eq "x".
            return self.compile(_prefixed(node.filter, spec.key))
        context = self._items(spec)
        if context is None:
            return False  # a multi-valued attribute the directory does not keep
        return compile_items(context, node.filter)

    def _compare(self, node: Compare) -> Condition:
        spec = self._spec(node.attr)
        parent_key, dot, sub = node.attr.rpartition(".")
        if dot and parent_key in self.specs and self.specs[parent_key].multi_valued:
            # emails.value eq "x": some email's value is "x".
            return self._value_path(ValuePath(parent_key, Compare(sub, node.op, node.value)))
        if spec.kind == COMPLEX and spec.custom_type is None:
            return self._complex(spec, node)
        return compile_compare(self._target(spec), node.op, node.value)

    def _complex(self, spec: AttrSpec, node: Compare) -> Condition:
        if spec.multi_valued:
            if node.op == "pr":
                context = self._items(spec)
                return False if context is None else context.some(True)
            # A filter on the attribute itself compares its values' "value".
            return self._value_path(ValuePath(spec.key, Compare("value", node.op, node.value)))
        if node.op == "pr":
            return self._complex_present(spec)
        if spec.key == "enterprise:manager":
            return self._compare(Compare("enterprise:manager.value", node.op, node.value))
        raise InvalidFilter(
            f"{spec.name!r} is complex: filter on one of its sub-attributes "
            f"({', '.join(self.specs[f'{spec.key}.{s}'].name for s in spec.sub_attrs)})"
        )

    def _complex_present(self, spec: AttrSpec) -> Condition:
        present: Condition = False
        for sub in spec.sub_attrs:
            sub_spec = self.specs[f"{spec.key}.{sub}"]
            # The stored columns say it all (name.formatted is made of them, the
            # manager's display name exists only when the manager does).
            column = sub_spec.column
            if sub_spec.filterable and column is not None and "__" not in column:
                present = combine_or(present, self._compare(Compare(sub_spec.key, "pr")))
        return present

    def _display_name(self, spec: AttrSpec) -> str:
        parent_key, dot, _ = spec.key.rpartition(".")
        parent = self.specs.get(parent_key) if dot else None
        return f"{parent.name}.{spec.name}" if parent is not None else spec.name

    def _target(self, spec: AttrSpec) -> Target:
        if spec.custom_type is not None:
            return Target(
                name=spec.name,
                kind=spec.kind,
                case_exact=spec.case_exact,
                nullable=True,
                custom_key=spec.name,
            )
        expr = spec.column
        nullable = False
        if spec.key == "name.formatted":
            return Target(
                name="name.formatted",
                kind=spec.kind,
                expr=Trim(Concat("first_name", Value(" "), "last_name")),
            )
        if expr is not None:
            nullable = column_nullable(self.resource, expr)
        return Target(
            name=self._display_name(spec),
            kind=spec.kind,
            expr=expr,
            case_exact=spec.case_exact,
            nullable=nullable,
            fixed=spec.fixed,
            stored=spec.stored,
            filterable=spec.filterable,
        )


def _prefixed(node: FilterNode, parent: str) -> FilterNode:
    if isinstance(node, Compare):
        return Compare(f"{parent}.{node.attr}", node.op, node.value)
    if isinstance(node, And):
        return And(_prefixed(node.left, parent), _prefixed(node.right, parent))
    if isinstance(node, Or):
        return Or(_prefixed(node.left, parent), _prefixed(node.right, parent))
    if isinstance(node, Not):
        return Not(_prefixed(node.node, parent))
    raise InvalidFilter("a value filter cannot contain another value filter")


def _apply(queryset: QuerySet, resource: str, text: str) -> QuerySet:
    if not isinstance(text, str):
        raise InvalidFilter("filter must be a string")
    fields = LazyCustomFields()
    node = Parser(resource, text, custom_fields=fields).parse_filter()
    condition = Compiler(resource, fields).compile(node)
    if condition is True:
        return queryset
    if condition is False:
        return queryset.none()
    return queryset.filter(condition)


def filter_users(queryset: QuerySet[User], text: str) -> QuerySet[User]:
    """The users among `queryset` that match a SCIM filter; raises InvalidFilter."""
    return _apply(queryset, USER, text)


def filter_groups(queryset: QuerySet[Role], text: str) -> QuerySet[Role]:
    """The groups (roles) among `queryset` that match a SCIM filter."""
    return _apply(queryset, GROUP, text)
