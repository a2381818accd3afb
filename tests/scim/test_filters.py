"""The SCIM filter parser: grammar, precedence, literals, names, and exact errors."""

from __future__ import annotations

import pytest

from scim.attributes import InvalidFilter
from scim.filters import And, Compare, Not, Or, ValuePath, parse_filter
from scim.filters.parser import MAX_LENGTH

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
AXERO = "urn:ietf:params:scim:schemas:extension:axero:2.0:User"


def user(text: str):
    # Custom fields are passed in, so these tests need no database.
    return parse_filter("User", text, custom_fields={})


def test_simple_comparison_names_the_canonical_attribute():
    assert user('userName eq "bjensen"') == Compare("username", "eq", "bjensen")


@pytest.mark.parametrize("op", ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"])
def test_every_comparison_operator_parses(op):
    assert user(f'title {op} "x"') == Compare("title", op, "x")


def test_present_takes_no_value():
    assert user("title pr") == Compare("title", "pr", None)


def test_and_binds_tighter_than_or():
    assert user('title eq "a" or title eq "b" and title eq "c"') == Or(
        Compare("title", "eq", "a"),
        And(Compare("title", "eq", "b"), Compare("title", "eq", "c")),
    )


def test_parentheses_override_precedence():
    assert user('(title eq "a" or title eq "b") and title eq "c"') == And(
        Or(Compare("title", "eq", "a"), Compare("title", "eq", "b")),
        Compare("title", "eq", "c"),
    )


def test_and_and_or_are_left_associative():
    assert user("title pr and active pr and emails pr") == And(
        And(Compare("title", "pr"), Compare("active", "pr")), Compare("emails", "pr")
    )


def test_not_negates_a_parenthesised_filter():
    assert user('not (title eq "a") and active eq true') == And(
        Not(Compare("title", "eq", "a")), Compare("active", "eq", True)
    )


def test_operators_keywords_and_attribute_names_are_case_insensitive():
    assert user('USERNAME EQ "X" AND Active Eq TRUE or NOT(Title Pr)') == Or(
        And(Compare("username", "eq", "X"), Compare("active", "eq", True)),
        Not(Compare("title", "pr")),
    )


def test_string_literals_decode_json_escapes():
    assert user(r'title eq "a\"b\\c\u00e9\n\/"') == Compare("title", "eq", 'a"b\\cé\n/')


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("42", 42),
        ("-3", -3),
        ("2.5", 2.5),
        ("1e3", 1000.0),
        ("true", True),
        ("false", False),
        ("null", None),
    ],
)
def test_number_boolean_and_null_literals(literal, value):
    assert user(f"title eq {literal}") == Compare("title", "eq", value)


def test_sub_attributes_and_extension_names():
    assert user('name.givenName sw "A"') == Compare("name.givenname", "sw", "A")
    assert user(f'{ENTERPRISE}:manager.value eq "m"') == Compare(
        "enterprise:manager.value", "eq", "m"
    )
    assert user(f'{AXERO}:hireDate gt "2024-01-01"') == Compare(
        "axero:hiredate", "gt", "2024-01-01"
    )


def test_core_urn_and_onelogin_short_urns_resolve():
    assert user('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "a"') == Compare(
        "username", "eq", "a"
    )
    assert user('urn:scim:schemas:core:2.0:userName eq "a"') == Compare("username", "eq", "a")
    assert user('urn:scim:schemas:extension:enterprise:2.0:employeeNumber eq "7"') == Compare(
        "enterprise:employeenumber", "eq", "7"
    )


def test_unqualified_extension_attributes_resolve():
    assert user('employeeNumber eq "7"') == Compare("enterprise:employeenumber", "eq", "7")
    assert user("hireDate pr") == Compare("axero:hiredate", "pr")


def test_value_path_with_logical_filter():
    assert user('emails[type eq "work" and value co "@x"]') == ValuePath(
        "emails", And(Compare("type", "eq", "work"), Compare("value", "co", "@x"))
    )


def test_entra_value_path_with_trailing_sub_attribute_comparison():
    assert user('emails[type eq "work"].value eq "a@b"') == ValuePath(
        "emails", And(Compare("type", "eq", "work"), Compare("value", "eq", "a@b"))
    )


def test_entra_and_shape():
    assert user('userName eq "x" and externalId eq "y"') == And(
        Compare("username", "eq", "x"), Compare("externalid", "eq", "y")
    )


def test_group_filters_resolve_against_the_group_schema():
    assert parse_filter("Group", 'displayName eq "Eng"') == Compare("displayname", "eq", "Eng")
    assert parse_filter("Group", 'members[value eq "u1"]') == ValuePath(
        "members", Compare("value", "eq", "u1")
    )


def test_whitespace_is_flexible():
    assert user('  (userName   eq\t"a")\n') == Compare("username", "eq", "a")


def test_custom_field_names_resolve_to_their_defined_key():
    class Field:
        key = "costCode"
        type = "string"
        label = "Cost code"

    assert parse_filter(
        "User", f'{AXERO}:COSTCODE eq "x"', custom_fields={"costCode": Field()}
    ) == (Compare("axero:costCode", "eq", "x"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "filter is empty"),
        ('(userName eq "a"', "unbalanced parentheses: '(' at position 0 is not closed"),
        ('userName eq "a")', "unbalanced parentheses: ')' at position 15"),
        ('userName like "a"', "expected an operator after 'userName' at position 9, found 'like'"),
        ('userName eq "a" title', "unexpected 'title' at position 16"),
        ('userName eq "a" and', "expected an attribute name, found the end of the filter"),
        (
            "userName eq",
            "expected a value (string, number, true, false or null) after 'eq', found the end of the filter",
        ),
        (
            "userName eq bjensen",
            "expected a value (string, number, true, false or null) after 'eq' at position 12, found 'bjensen'",
        ),
        ('favouriteColour eq "red"', "unknown attribute 'favouriteColour'"),
        (
            'urn:example:params:color eq "red"',
            "unknown schema 'urn:example:params' in attribute 'urn:example:params:color'",
        ),
        ('emails[kind eq "work"]', "unknown sub-attribute 'kind' of 'emails'"),
        ('emails[type eq "work"].colour eq "x"', "unknown sub-attribute 'colour' of 'emails'"),
        ('userName[value eq "x"]', "'userName' has no sub-attributes to filter on"),
        ('emails[type eq "work"', "expected ']', found the end of the filter"),
        ('userName eq "abc', "unterminated string starting at position 12"),
        (r'userName eq "a\qb"', "invalid escape in string at position 12"),
        ('not userName eq "a"', "expected '(' after 'not' at position 4"),
        ('userName eq "a" & title pr', "unexpected character '&' at position 16"),
        ("title eq -", "invalid number at position 9"),
        ("name.givenName.first eq 1", "'name.givenName.first' is not an attribute name"),
    ],
)
def test_invalid_filters_raise_invalid_filter_with_an_exact_message(text, message):
    with pytest.raises(InvalidFilter) as caught:
        user(text)
    assert caught.value.detail == message
    assert caught.value.http_status == 400
    assert caught.value.scim_type == "invalidFilter"


def test_over_long_filter_is_refused_before_parsing():
    text = 'userName eq "' + "a" * MAX_LENGTH + '"'
    with pytest.raises(InvalidFilter) as caught:
        user(text)
    assert caught.value.detail == "filter is longer than 4096 characters"


def test_too_many_expressions_are_refused():
    text = " or ".join(f'title eq "{n}"' for n in range(150))
    with pytest.raises(InvalidFilter) as caught:
        user(text)
    assert caught.value.detail == "filter has more than 200 expressions"


def test_deep_nesting_is_refused_without_exhausting_the_stack():
    text = "(" * 40 + "title pr" + ")" * 40
    with pytest.raises(InvalidFilter) as caught:
        user(text)
    assert caught.value.detail == "filter nests deeper than 32 levels"


def test_nesting_within_the_limit_parses():
    assert user("(" * 30 + "title pr" + ")" * 30) == Compare("title", "pr")


def test_nul_characters_are_refused_before_the_database_sees_them():
    with pytest.raises(InvalidFilter) as caught:
        user(r'userName eq "a\u0000b"')
    assert caught.value.detail == "string at position 12 contains a NUL character"


def test_numbers_beyond_floating_point_range_are_refused():
    with pytest.raises(InvalidFilter) as caught:
        user("title gt 1e400")
    assert caught.value.detail == "number at position 9 is out of range"
