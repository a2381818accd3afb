"""A hand-written recursive-descent parser for SCIM filters and PATCH paths.

Grammar (RFC 7644 §3.4.2.2, with what real IdPs add):

    filter    = orExp
    orExp     = andExp *("or" andExp)            ; "and" binds tighter than "or"
    andExp    = unary *("and" unary)
    unary     = "not" "(" filter ")" / "(" filter ")" / attrExp
    attrExp   = attrPath "pr" / attrPath compOp compValue
              / attrPath "[" valFilter "]" [subAttr compOp compValue / subAttr "pr"]
    path      = attrPath ["[" valFilter "]" [subAttr]]

The trailing `[...].value eq "x"` form is Entra ID's (`emails[type eq "work"].value eq
"a@b"`): it means some value matches the bracket filter and has that sub-attribute.
Operators, keywords and attribute names are case-insensitive. The input is bounded in
length and in nodes, and nesting in depth, so no filter can exhaust the stack.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from axero_idp.errors import ApplicationError
from axero_idp.text import unstorable_char
from scim.attributes import COMPLEX, AttrSpec, InvalidFilter, attr_spec
from scim.filters.ast import OPERATORS, And, Compare, FilterNode, Literal, Not, Or, ValuePath
from users.models import CustomField

_Node = TypeVar("_Node", Compare, And, Or, Not, ValuePath)

MAX_LENGTH = 4096
MAX_NODES = 200
MAX_DEPTH = 32

_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
# An attribute path, optionally URN-qualified: the URN carries ":" and "2.0".
_WORD = re.compile(r"[A-Za-z$][A-Za-z0-9_$:.\-]*")
_SUB_ATTR = re.compile(r"\.([A-Za-z$][A-Za-z0-9_$\-]*)")
_SPACE = re.compile(r"[ \t\r\n]+")
_KEYWORDS = {"true": True, "false": False, "null": None}


@dataclass(frozen=True)
class Token:
    kind: str  # "word", "string", "number", "(", ")", "[", "]", "sub", "end"
    text: str
    position: int
    value: Literal = None


def tokenize(text: str, *, error: type[ApplicationError]) -> list[Token]:
    if len(text) > MAX_LENGTH:
        raise error(f"filter is longer than {MAX_LENGTH} characters")
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        space = _SPACE.match(text, position)
        if space:
            position = space.end()
            continue
        scanned, position = _scanner(text[position])(text, position, error)
        tokens.extend(scanned)
    tokens.append(Token("end", "", len(text)))
    return tokens


# A scanner reads the token(s) starting at `position`: (tokens, position after them).
_Scanner = Callable[[str, int, type[ApplicationError]], tuple[list[Token], int]]


def _scanner(char: str) -> _Scanner:
    if char in "()[":
        return _scan_bracket
    if char == "]":
        return _scan_close
    if char == '"':
        return _scan_string
    if char == "-" or char.isdigit():
        return _scan_number
    return _scan_word


def _scan_bracket(
    text: str, position: int, error: type[ApplicationError]
) -> tuple[list[Token], int]:
    return [Token(text[position], text[position], position)], position + 1


def _scan_close(text: str, position: int, error: type[ApplicationError]) -> tuple[list[Token], int]:
    """ "]", and the sub-attribute right after it: emails[type eq "work"].value."""
    tokens = [Token("]", "]", position)]
    sub = _SUB_ATTR.match(text, position + 1)
    if not sub:
        return tokens, position + 1
    return [*tokens, Token("sub", sub.group(1), position + 1)], sub.end()


def _scan_string(
    text: str, position: int, error: type[ApplicationError]
) -> tuple[list[Token], int]:
    end = _string_end(text, position, error=error)
    try:
        value = json.loads(text[position:end])
    except ValueError as exc:
        raise error(f"invalid escape in string at position {position}") from exc
    if unstorable_char(value) is not None:
        # Neither PostgreSQL text (NUL) nor UTF-8 (a lone surrogate from an escape
        # such as \ud800) can carry it: refuse it here, not fail there.
        raise error(f"string at position {position} contains a {_unstorable_name(value)}")
    return [Token("string", text[position:end], position, value)], end


def _scan_number(
    text: str, position: int, error: type[ApplicationError]
) -> tuple[list[Token], int]:
    number = _NUMBER.match(text, position)
    if not number:
        raise error(f"invalid number at position {position}")
    literal = number.group()
    parsed: int | float = float(literal) if any(c in literal for c in ".eE") else int(literal)
    if isinstance(parsed, float) and not math.isfinite(parsed):
        raise error(f"number at position {position} is out of range")
    return [Token("number", literal, position, parsed)], number.end()


def _scan_word(text: str, position: int, error: type[ApplicationError]) -> tuple[list[Token], int]:
    word = _WORD.match(text, position)
    if not word:
        raise error(f"unexpected character {text[position]!r} at position {position}")
    return [Token("word", word.group(), position)], word.end()


def _unstorable_name(value: str) -> str:
    char = unstorable_char(value) or ""
    return "NUL character" if char == "\x00" else f"lone surrogate (\\u{ord(char):04x})"


def _string_end(text: str, start: int, *, error: type[ApplicationError]) -> int:
    position = start + 1
    while position < len(text):
        char = text[position]
        if char == "\\":
            position += 2
            continue
        if char == '"':
            return position + 1
        position += 1
    raise error(f"unterminated string starting at position {start}")


class Parser:
    """Parses one filter or path of one resource type ("User" or "Group")."""

    def __init__(
        self,
        resource: str,
        text: str,
        *,
        error: type[ApplicationError] = InvalidFilter,
        custom_fields: Mapping[str, CustomField] | None = None,
    ) -> None:
        self.resource = resource
        self.error = error
        self.custom_fields = custom_fields
        self.tokens = tokenize(text, error=error)
        self.index = 0
        self.nodes = 0
        self.depth = 0

    # -- entry points ---------------------------------------------------------------

    def parse_filter(self) -> FilterNode:
        if self._peek().kind == "end":
            raise self.error("filter is empty")
        node = self._or(parent=None)
        self._expect_end()
        return node

    def parse_path(self) -> tuple[AttrSpec, FilterNode | None, str | None]:
        """(attribute, value filter, sub-attribute) of a PATCH path."""
        token = self._next()
        if token.kind != "word":
            raise self.error(f"expected an attribute name at position {token.position}")
        spec = self._spec(token.text)
        value_filter = None
        sub_attr = None
        if self._peek().kind == "[":
            self._check_complex(spec, token.text)
            self._next()
            value_filter = self._or(parent=spec)
            self._expect("]")
            if self._peek().kind == "sub":
                sub_attr = self._sub_attr(spec, self._next())
        self._expect_end()
        return spec, value_filter, sub_attr

    # -- grammar -----------------------------------------------------------------------

    def _or(self, *, parent: AttrSpec | None) -> FilterNode:
        node = self._and(parent=parent)
        while self._keyword("or"):
            self._next()
            node = self._count(Or(node, self._and(parent=parent)))
        return node

    def _and(self, *, parent: AttrSpec | None) -> FilterNode:
        node = self._unary(parent=parent)
        while self._keyword("and"):
            self._next()
            node = self._count(And(node, self._unary(parent=parent)))
        return node

    def _unary(self, *, parent: AttrSpec | None) -> FilterNode:
        token = self._peek()
        if self._keyword("not"):
            self._next()
            if self._peek().kind != "(":
                raise self.error(f"expected '(' after 'not' at position {self._peek().position}")
            return self._count(Not(self._group(parent=parent)))
        if token.kind == "(":
            return self._group(parent=parent)
        if token.kind != "word":
            raise self.error(_expected("an attribute name", token))
        return self._attr_exp(parent=parent)

    def _group(self, *, parent: AttrSpec | None) -> FilterNode:
        opening = self._next()
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"filter nests deeper than {MAX_DEPTH} levels")
        node = self._or(parent=parent)
        if self._peek().kind != ")":
            raise self.error(
                f"unbalanced parentheses: '(' at position {opening.position} is not closed"
            )
        self._next()
        self.depth -= 1
        return node

    def _attr_exp(self, *, parent: AttrSpec | None) -> FilterNode:
        name = self._next()
        if parent is not None:
            return self._comparison(self._sub_attr(parent, name), name)
        spec = self._spec(name.text)
        if self._peek().kind != "[":
            return self._comparison(spec.key, name)
        self._check_complex(spec, name.text)
        self._next()
        inner = self._or(parent=spec)
        self._expect("]")
        if self._peek().kind == "sub":
            sub = self._next()
            inner = self._count(And(inner, self._comparison(self._sub_attr(spec, sub), sub)))
        return self._count(ValuePath(spec.key, inner))

    def _comparison(self, attr: str, name: Token) -> Compare:
        op_token = self._next()
        op = op_token.text.lower() if op_token.kind == "word" else ""
        if op not in OPERATORS:
            raise self.error(_expected(f"an operator after {name.text!r}", op_token))
        if op == "pr":
            return self._count(Compare(attr, op))
        value = self._next()
        if value.kind in ("string", "number"):
            return self._count(Compare(attr, op, value.value))
        if value.kind == "word" and value.text.lower() in _KEYWORDS:
            return self._count(Compare(attr, op, _KEYWORDS[value.text.lower()]))
        raise self.error(
            _expected(f"a value (string, number, true, false or null) after {op!r}", value)
        )

    # -- helpers -----------------------------------------------------------------------

    def _spec(self, text: str) -> AttrSpec:
        return attr_spec(self.resource, text, error=self.error, custom_fields=self.custom_fields)

    def _check_complex(self, spec: AttrSpec, text: str) -> None:
        if spec.kind != COMPLEX:
            raise self.error(f"{text!r} has no sub-attributes to filter on")

    def _sub_attr(self, parent: AttrSpec, token: Token) -> str:
        lowered = token.text.lower()
        if token.kind not in ("word", "sub") or lowered not in parent.sub_attrs:
            raise self.error(f"unknown sub-attribute {token.text!r} of {parent.name!r}")
        return lowered

    def _count(self, node: _Node) -> _Node:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.error(f"filter has more than {MAX_NODES} expressions")
        return node

    def _peek(self) -> Token:
        return self.tokens[self.index]

    def _next(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def _keyword(self, word: str) -> bool:
        token = self._peek()
        return token.kind == "word" and token.text.lower() == word

    def _expect(self, kind: str) -> None:
        token = self._next()
        if token.kind != kind:
            raise self.error(_expected(f"{kind!r}", token))

    def _expect_end(self) -> None:
        token = self._peek()
        if token.kind == ")":
            raise self.error(f"unbalanced parentheses: ')' at position {token.position}")
        if token.kind != "end":
            raise self.error(f"unexpected {token.text!r} at position {token.position}")


def _expected(what: str, token: Token) -> str:
    if token.kind == "end":
        return f"expected {what}, found the end of the filter"
    return f"expected {what} at position {token.position}, found {token.text!r}"


def parse_filter(
    resource: str, text: str, *, custom_fields: Mapping[str, CustomField] | None = None
) -> FilterNode:
    """The syntax tree of a filter on "User" or "Group"; raises InvalidFilter."""
    return Parser(resource, text, custom_fields=custom_fields).parse_filter()
