"""Hypothesis strategies built from the SCIM schema the server publishes (/Schemas):
each attribute's type, multiValued, subAttributes, canonicalValues and mutability decide
what a valid-ish value looks like, and mutations turn valid bodies into the shapes RFC
7644 clients get wrong. Nothing here knows the attribute list: a new attribute in
/Schemas is fuzzed without a change here."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
# RFC 7644 §3.12, table 9.
SCIM_TYPES = {
    "invalidFilter",
    "tooMany",
    "uniqueness",
    "mutability",
    "invalidSyntax",
    "invalidPath",
    "noTarget",
    "invalidValue",
    "invalidVers",
    "sensitive",
}
WRITABLE = {"readWrite", "immutable", "writeOnly"}
# Attributes whose value names another resource: valid-ish only with a real target.
REFERENCES = {"manager", "members", "$ref", "groups"}

_unique = itertools.count()

# Printable text without leading or trailing blanks (the server may trim; that is not
# what the round trip checks), including non-ASCII letters.
WORD = (
    st.text(
        alphabet=st.characters(
            whitelist_categories=("L", "N", "Zs", "Pd", "Po"), blacklist_characters="\x00"
        ),
        min_size=1,
        max_size=30,
    )
    .map(str.strip)
    .filter(bool)
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=10,
)


@dataclass(frozen=True)
class Attribute:
    """One attribute of /Schemas, with the schema URN it belongs to."""

    schema: str
    spec: Mapping[str, Any]
    core: bool

    @property
    def name(self) -> str:
        return str(self.spec["name"])

    @property
    def writable(self) -> bool:
        return self.spec.get("mutability", "readWrite") in WRITABLE

    @property
    def path(self) -> str:
        """The PATCH / filter path: bare for the core schema, URN-prefixed otherwise."""
        return self.name if self.core else f"{self.schema}:{self.name}"


def attributes(schemas: list[dict[str, Any]], core: str, extensions: list[str]) -> list[Attribute]:
    """The attributes of one resource type: its core schema's and its extensions'."""
    by_id = {schema["id"]: schema for schema in schemas}
    found = [Attribute(core, a, True) for a in by_id[core]["attributes"]]
    for urn in extensions:
        if urn in by_id:
            found += [Attribute(urn, a, False) for a in by_id[urn]["attributes"]]
    return found


def email_like(word: str) -> str:
    local = "".join(ch for ch in word if ch.isascii() and ch.isalnum())[:20] or "x"
    return f"{local}.{next(_unique)}@fuzz.example.com"


def simple_value(spec: Mapping[str, Any], *, owner: str = "") -> st.SearchStrategy[Any]:
    """A valid-ish value of a simple attribute."""
    kind = spec.get("type", "string")
    if spec.get("canonicalValues"):
        return st.sampled_from(list(spec["canonicalValues"]))
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        return st.integers(-(2**31), 2**31 - 1)
    if kind == "decimal":
        return st.floats(-1e9, 1e9, allow_nan=False)
    if kind == "dateTime":
        moments = st.datetimes(dt.datetime(1950, 1, 1), dt.datetime(2099, 12, 31))
        return moments.map(lambda m: m.replace(microsecond=0).isoformat() + "Z")
    if kind == "reference":
        return st.from_regex(r"[a-z0-9]{1,12}", fullmatch=True).map(
            lambda s: f"https://photos.fuzz.example.com/{s}.jpg"
        )
    if owner == "emails" and spec["name"] == "value":
        return WORD.map(email_like)
    return WORD


def attribute_value(attribute: Mapping[str, Any], *, owner: str = "") -> st.SearchStrategy[Any]:
    """A valid-ish value of any attribute: complex ones as dicts of writable
    sub-attributes, multi-valued ones as short lists."""
    if attribute.get("type") == "complex":
        subs = {
            sub["name"]: simple_value(sub, owner=attribute["name"])
            for sub in attribute.get("subAttributes", [])
            if sub.get("mutability", "readWrite") in WRITABLE and sub["name"] not in REFERENCES
        }
        # A multi-valued item's `value` is what it is (RFC 7643 §2.4): always sent.
        required = (
            {"value": subs.pop("value")} if attribute.get("multiValued") and "value" in subs else {}
        )
        one: st.SearchStrategy[Any] = st.fixed_dictionaries(required, optional=subs).filter(bool)
    else:
        one = simple_value(attribute, owner=owner)
    if attribute.get("multiValued"):
        return st.lists(one, min_size=1, max_size=3)
    return one


def resource_body(
    attrs: list[Attribute], *, schemas: list[str], unique: str
) -> st.SearchStrategy[dict[str, Any]]:
    """A valid-ish resource: required attributes always, the other writable ones
    sometimes; the `uniqueness: server` attribute made unique; extensions nested under
    their URN, as RFC 7643 §3.3 says."""
    required: dict[str, st.SearchStrategy[Any]] = {}
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for attribute in attrs:
        spec = attribute.spec
        if not attribute.writable or attribute.name in REFERENCES:
            continue
        value = attribute_value(spec)
        if attribute.name == unique:
            value = WORD.map(email_like)
        key = attribute.name if attribute.core else f"{attribute.schema}\x1f{attribute.name}"
        (required if spec.get("required") else optional)[key] = value

    def nest(flat: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {"schemas": list(schemas)}
        for key, value in flat.items():
            if "\x1f" in key:
                urn, name = key.split("\x1f")
                body.setdefault(urn, {})[name] = value
            else:
                body[key] = value
        return body

    return st.fixed_dictionaries(required, optional=optional).map(nest)


# -- mutations ------------------------------------------------------------------------


def deep(depth: int, kind: str) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value] if kind == "list" else {"a": value}
    return value


@st.composite
def mutated(
    draw: st.DrawFn, valid: st.SearchStrategy[dict[str, Any]], attrs: list[Attribute]
) -> Any:
    """A valid body broken in one to three ways a client might break it."""
    body: Any = draw(valid)
    names = [a.path for a in attrs] + ["schemas", "id", "meta", "externalId", "Operations"]
    for _ in range(draw(st.integers(1, 3))):
        how = draw(
            st.sampled_from(
                ["retype", "drop", "unknown", "case", "schemas", "deep", "huge", "null", "top"]
            )
        )
        if not isinstance(body, dict):
            break
        name = draw(st.sampled_from(names))
        if how == "retype":
            body[name] = draw(JSON)
        elif how == "drop" and body:
            body.pop(draw(st.sampled_from(sorted(body))), None)
        elif how == "unknown":
            body[draw(st.text(max_size=40))] = draw(JSON)
        elif how == "case":
            body = {k.upper() if draw(st.booleans()) else k: v for k, v in body.items()}
        elif how == "schemas":
            body["schemas"] = draw(
                st.sampled_from([[], "urn:x", [ERROR_SCHEMA], [None], ["urn:bogus"], {}])
            )
        elif how == "deep":
            # json.dumps recurses: ~900 levels is what a body can carry here; the raw
            # body tests send documents nested 50,000 deep.
            body[name] = deep(draw(st.integers(20, 900)), draw(st.sampled_from(["list", "dict"])))
        elif how == "huge":
            body[name] = "x" * draw(st.sampled_from([300, 70_000, 1_100_000]))
        elif how == "null":
            body[name] = None
        else:
            body = draw(st.sampled_from([[], "text", 42, None, [body]]))
    return body


def patch_body(attrs: list[Attribute], valid_only: bool) -> st.SearchStrategy[dict[str, Any]]:
    """PatchOp requests whose paths come from the schema: attr, attr.sub,
    attr[sub eq "x"].sub, URN:attr, or no path with a partial resource."""
    paths: list[str] = []
    values: dict[str, st.SearchStrategy[Any]] = {}
    for attribute in attrs:
        if attribute.name in REFERENCES:
            continue
        paths.append(attribute.path)
        values[attribute.path] = attribute_value(attribute.spec)
        for sub in attribute.spec.get("subAttributes", []):
            sub_path = f"{attribute.path}.{sub['name']}"
            paths.append(sub_path)
            values[sub_path] = simple_value(sub, owner=attribute.name)
            if attribute.spec.get("multiValued") and sub.get("canonicalValues"):
                for other in attribute.spec["subAttributes"]:
                    filtered = (
                        f'{attribute.path}[{sub["name"]} eq "{sub["canonicalValues"][0]}"]'
                        f".{other['name']}"
                    )
                    paths.append(filtered)
                    values[filtered] = simple_value(other, owner=attribute.name)

    @st.composite
    def operation(draw: st.DrawFn) -> dict[str, Any]:
        op = draw(
            st.sampled_from(
                ["add", "replace", "remove"] + ([] if valid_only else ["Replace", "move", ""])
            )
        )
        path = draw(st.sampled_from(paths))
        value = draw(values[path] if valid_only or draw(st.booleans()) else JSON)
        chosen: dict[str, Any] = {"op": op, "path": path}
        if op != "remove":
            chosen["value"] = value
        if not valid_only and draw(st.booleans()):
            chosen.pop(draw(st.sampled_from(sorted(chosen))))
        return chosen

    return st.fixed_dictionaries(
        {
            "schemas": st.just([PATCH_SCHEMA]),
            "Operations": st.lists(operation(), min_size=1, max_size=3),
        }
    )


def filter_text(attrs: list[Attribute]) -> st.SearchStrategy[str]:
    """Filters over the schema's attribute paths with each operator and values of the
    right type or not, joined by and/or/not and grouping."""
    paths = [a.path for a in attrs] + [
        f"{a.path}.{sub['name']}" for a in attrs for sub in a.spec.get("subAttributes", [])
    ]
    literals = st.one_of(
        st.just("true"),
        st.just("false"),
        st.just("null"),
        st.integers().map(str),
        st.floats(allow_nan=False, allow_infinity=False).map(repr),
        st.text(max_size=20).map(json.dumps),
        st.just('"2020-01-01T00:00:00Z"'),
    )
    comparison = st.builds(
        lambda p, o, v: f"{p} {o} {v}",
        st.sampled_from(paths),
        st.sampled_from(["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "EQ", "xx"]),
        literals,
    )
    present = st.sampled_from(paths).map(lambda p: f"{p} pr")
    atom = comparison | present
    return st.recursive(
        atom,
        lambda inner: st.one_of(
            st.builds(
                lambda a, op, b: f"{a} {op} {b}", inner, st.sampled_from(["and", "or"]), inner
            ),
            inner.map(lambda f: f"not ({f})"),
            inner.map(lambda f: f"({f})"),
            st.builds(
                lambda p, f: f"{p}[{f}]",
                st.sampled_from([a.path for a in attrs if a.spec.get("multiValued")] or ["emails"]),
                inner,
            ),
        ),
        max_leaves=5,
    )
