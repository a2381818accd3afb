"""Pure pieces of the attribute mapping: defaults, overrides, role splitting."""

from __future__ import annotations

import pytest

from axero_idp.errors import ValidationFailed
from sso.mapping import (
    DEFAULT_ATTRIBUTE_MAP,
    attribute_map_merge,
    first_present,
    profile_from_attributes,
    split_roles,
)


def test_split_roles_reads_one_semicolon_delimited_value():
    assert split_roles(["Engineering; Managers;;  Berlin "]) == [
        "Engineering",
        "Managers",
        "Berlin",
    ]


def test_split_roles_reads_a_multi_valued_attribute_and_drops_case_duplicates():
    assert split_roles(["Engineering", "engineering", "Sales;Ops", " "]) == [
        "Engineering",
        "Sales",
        "Ops",
    ]


def test_split_roles_of_nothing_is_empty():
    assert split_roles([]) == []


def test_attribute_map_merge_keeps_defaults_for_missing_keys():
    merged = attribute_map_merge({"title": "jobTitle", "custom.location": ["office", "site"]})

    assert merged["title"] == ["jobTitle"]
    assert merged["custom.location"] == ["office", "site"]
    assert merged["email"] == list(DEFAULT_ATTRIBUTE_MAP["email"])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"password": "pw"}, "attribute map: 'password' is not a product field"),
        ({"custom.": "x"}, "attribute map: 'custom.' is not a product field"),
        ({"title": 3}, "attribute map: 'title' must name a SAML attribute or a list"),
        ({"title": ["ok", ""]}, "attribute map: 'title' must name a SAML attribute or a list"),
    ],
)
def test_attribute_map_merge_refuses_bad_entries(overrides, message):
    with pytest.raises(ValidationFailed) as caught:
        attribute_map_merge(overrides)
    assert caught.value.detail == message


def test_first_present_takes_the_first_name_the_assertion_carries():
    attributes = {"email": ["b@example.com"], "User.email": ["a@example.com"]}

    assert first_present(attributes, ["User.email", "email"]) == ["a@example.com"]
    assert first_present(attributes, ["mail"]) is None


def test_profile_from_onelogin_attributes():
    attributes = {
        "User.email": ["ann@example.com"],
        "User.FirstName": ["Ann"],
        "User.LastName": [""],
        "memberOf": ["Engineering;Managers"],
        "manager": ["boss@example.com"],
        "hireDate": ["3/1/2024"],
        "persona": ["engineer"],
        "photo": ["https://img.example.com/ann.png"],
    }

    profile = profile_from_attributes(attributes, attribute_map_merge(None))

    assert profile.attributes == {
        "email": "ann@example.com",
        "first_name": "Ann",
        "last_name": None,
        "hire_date": "3/1/2024",
        "photo_url": "https://img.example.com/ann.png",
    }
    assert profile.custom == {"persona": "engineer"}
    assert profile.roles == ["Engineering", "Managers"]
    assert (profile.has_manager, profile.manager_ref) == (True, "boss@example.com")


def test_profile_from_entra_claims_and_list_custom_field():
    claims = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"
    attributes = {
        claims + "givenname": ["Bo"],
        claims + "surname": ["Lee"],
        "http://schemas.microsoft.com/ws/2008/06/identity/claims/role": ["Admin", "Staff"],
        "skills": ["go", "sql"],
    }
    mapping = attribute_map_merge({"custom.skills": "skills"})

    profile = profile_from_attributes(attributes, mapping, list_custom_keys=frozenset({"skills"}))

    assert profile.attributes == {"first_name": "Bo", "last_name": "Lee"}
    assert profile.roles == ["Admin", "Staff"]
    assert profile.custom == {"skills": ["go", "sql"]}
    assert profile.has_manager is False


def test_profile_without_roles_attribute_says_none_were_sent():
    assert profile_from_attributes({}, attribute_map_merge(None)).roles is None
