"""PATCH paths, the member selection helpers, in-memory value filters, and sorting."""

from __future__ import annotations

import datetime as dt

import pytest

from scim.attributes import (
    GROUP_SCHEMA,
    USER_SCHEMA,
    InvalidFilter,
    InvalidPath,
    canonical_attr,
    schema_for_urn,
)
from scim.filters import And, Compare, Not, Or, order_groups, order_users
from scim.paths import Path, member_ids_selected, members_filter_q, parse_path, value_matches
from tests.factories import CustomFieldFactory, RoleFactory, UserFactory
from users.models import Role, User

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
AXERO = "urn:ietf:params:scim:schemas:extension:axero:2.0:User"


def user_path(text: str) -> Path:
    return parse_path("User", text, custom_fields={})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("userName", Path("username")),
        ("name.givenName", Path("name.givenname")),
        ("name", Path("name")),
        ("emails", Path("emails")),
        ("emails.value", Path("emails", "value")),
        ('emails[type eq "work"].value', Path("emails", "value", Compare("type", "eq", "work"))),
        ('emails[type eq "work"]', Path("emails", None, Compare("type", "eq", "work"))),
        (f"{ENTERPRISE}:manager", Path("enterprise:manager")),
        (f"{ENTERPRISE}:manager.value", Path("enterprise:manager.value")),
        (
            "urn:scim:schemas:extension:enterprise:2.0:employeeNumber",
            Path("enterprise:employeenumber"),
        ),
        (f"{AXERO}:hireDate", Path("axero:hiredate")),
        ("ACTIVE", Path("active")),
        ("urn:ietf:params:scim:schemas:core:2.0:User:displayName", Path("displayname")),
    ],
)
def test_user_paths(text, expected):
    assert user_path(text) == expected


def test_group_member_paths():
    assert parse_path("Group", "members") == Path("members")
    assert parse_path("Group", 'members[value eq "a"]') == Path(
        "members", None, Compare("value", "eq", "a")
    )
    assert parse_path("Group", "displayName") == Path("displayname")
    assert parse_path("Group", "externalId") == Path("externalid")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "path is empty"),
        ("nosuch", "unknown attribute 'nosuch'"),
        ('members[value eq "a"]', "unknown attribute 'members'"),
        ('emails[type eq "work"', "expected ']', found the end of the filter"),
        ('emails[type eq "work"] extra', "unexpected 'extra' at position 23"),
        ('userName[value eq "x"]', "'userName' has no sub-attributes to filter on"),
        (
            'name[givenName eq "x"]',
            "'name[givenName eq \"x\"]': a value filter needs a multi-valued attribute",
        ),
        ('emails[colour eq "x"]', "unknown sub-attribute 'colour' of 'emails'"),
        (
            "urn:example:thing:attr",
            "unknown schema 'urn:example:thing' in attribute 'urn:example:thing:attr'",
        ),
    ],
)
def test_invalid_user_paths_raise_invalid_path(text, message):
    with pytest.raises(InvalidPath) as caught:
        user_path(text)
    assert caught.value.detail == message
    assert caught.value.scim_type == "invalidPath"


@pytest.mark.django_db
def test_custom_field_path_keeps_the_defined_key():
    CustomFieldFactory(key="costCode", type="string")
    assert parse_path("User", f"{AXERO}:costcode") == Path("axero:costCode")
    assert canonical_attr("User", "costCode") == "axero:costCode"
    with pytest.raises(InvalidPath) as caught:
        parse_path("User", f"{AXERO}:nothere")
    assert caught.value.detail == f"unknown attribute '{AXERO}:nothere'"


def test_canonical_attr_forms():
    assert canonical_attr("User", "userName") == "username"
    assert canonical_attr("User", "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName") == (
        "name.givenname"
    )
    assert canonical_attr("User", f"{ENTERPRISE}:manager.value") == "enterprise:manager.value"
    assert canonical_attr("User", "urn:scim:schemas:core:2.0:emails") == "emails"
    assert canonical_attr("Group", "urn:ietf:params:scim:schemas:core:2.0:Group:displayName") == (
        "displayname"
    )
    assert canonical_attr("Group", "urn:scim:schemas:core:2.0:members") == "members"
    with pytest.raises(InvalidFilter) as caught:
        canonical_attr(
            "Group", "urn:ietf:params:scim:schemas:core:2.0:User:userName", error=InvalidFilter
        )
    assert caught.value.detail == (
        "unknown schema 'urn:ietf:params:scim:schemas:core:2.0:User' in attribute "
        "'urn:ietf:params:scim:schemas:core:2.0:User:userName'"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('value eq "a"', {"a"}),
        ('value eq "a" or value eq "b" or VALUE EQ "c"', {"a", "b", "c"}),
        ('value eq "a" and value eq "b"', None),
        ('value ne "a"', None),
        ('display eq "a"', None),
        ("value eq 5", None),
        ('value eq "a" or display eq "b"', None),
    ],
)
def test_member_ids_selected_only_for_plain_id_lists(text, expected):
    path = parse_path("Group", f"members[{text}]")
    assert path.value_filter is not None
    assert member_ids_selected(path.value_filter) == expected


@pytest.mark.django_db
def test_members_filter_q_selects_users_by_id_and_display():
    ann = UserFactory(username="ann@example.com", display_name="Ann Lee")
    ben = UserFactory(username="ben@example.com", display_name="")
    UserFactory(username="cy@example.com", display_name="Cy")

    def selected(text: str) -> set[str]:
        node = parse_path("Group", f"members[{text}]").value_filter
        assert node is not None
        return set(User.objects.filter(members_filter_q(node)).values_list("username", flat=True))

    assert selected(f'value eq "{ann.id}"') == {"ann@example.com"}
    assert selected(f'value eq "{ann.id}" or value eq "{ben.id}"') == {
        "ann@example.com",
        "ben@example.com",
    }
    assert selected('display eq "ann lee"') == {"ann@example.com"}
    assert selected('display eq "BEN@example.com"') == {"ben@example.com"}
    assert selected('display sw "c"') == {"cy@example.com"}
    assert selected('type eq "User"') == {"ann@example.com", "ben@example.com", "cy@example.com"}
    assert selected('value eq "not-an-id"') == set()
    assert selected('not (value eq "not-an-id")') == {
        "ann@example.com",
        "ben@example.com",
        "cy@example.com",
    }


@pytest.mark.parametrize(
    ("node", "item", "expected"),
    [
        (Compare("type", "eq", "work"), {"type": "Work", "value": "a@b"}, True),
        (Compare("type", "eq", "work"), {"type": "home"}, False),
        (Compare("Value", "co", "@B"), {"value": "a@b.com"}, True),
        (Compare("primary", "eq", True), {"primary": "True"}, True),
        (Compare("primary", "eq", True), {"primary": False}, False),
        (Compare("primary", "eq", True), {}, False),
        (Compare("primary", "ne", True), {"primary": "maybe"}, True),
        (Compare("type", "pr"), {"type": ""}, False),
        (Compare("type", "eq", None), {}, True),
        (Compare("value", "sw", "a"), {"VALUE": "abc"}, True),
        (Compare("value", "ew", "c"), {"value": "abc"}, True),
        (Compare("value", "gt", "b"), {"value": "c"}, True),
        (Compare("rank", "ge", 2), {"rank": 2}, True),
        (Compare("rank", "lt", 2), {"rank": "1"}, False),
        (
            And(Compare("type", "eq", "work"), Compare("value", "co", "@x")),
            {"type": "work", "value": "a@x"},
            True,
        ),
        (
            Or(Compare("type", "eq", "home"), Compare("value", "co", "@x")),
            {"type": "work", "value": "a@y"},
            False,
        ),
        (Not(Compare("type", "eq", "home")), {"type": "work"}, True),
    ],
)
def test_value_matches_evaluates_one_complex_value(node, item, expected):
    assert value_matches(node, item) is expected


def _at(day: int) -> dt.datetime:
    return dt.datetime(2025, 2, day, tzinfo=dt.UTC)


@pytest.mark.django_db
def test_default_order_is_creation_then_id():
    late = UserFactory(username="a-late", created_at=_at(3))
    early = UserFactory(username="z-early", created_at=_at(1))
    same_1 = UserFactory(username="m1", created_at=_at(2))
    same_2 = UserFactory(username="m2", created_at=_at(2))
    middle = sorted([same_1, same_2], key=lambda u: u.id)
    assert list(order_users(User.objects.all(), None, None)) == [early, *middle, late]
    assert list(order_users(User.objects.all(), None, "descending")) == [
        late,
        *reversed(middle),
        early,
    ]


@pytest.mark.django_db
def test_sort_by_username_is_case_insensitive_with_id_tiebreak():
    bob = UserFactory(username="Bob", title="x")
    amy = UserFactory(username="amy", title="x")
    cat = UserFactory(username="CAT", title="x")
    assert list(order_users(User.objects.all(), "userName", None)) == [amy, bob, cat]
    assert list(order_users(User.objects.all(), "USERNAME", "DESCENDING")) == [cat, bob, amy]
    by_title = list(order_users(User.objects.all(), "title", "ascending"))
    assert by_title == sorted([amy, bob, cat], key=lambda u: u.id)


@pytest.mark.django_db
def test_sort_by_nullable_and_multi_valued_attributes():
    one = UserFactory(username="one", email="z@example.com", hire_date=dt.date(2024, 1, 1))
    two = UserFactory(username="two", email="A@example.com", hire_date=None)
    three = UserFactory(username="three", email="m@example.com", hire_date=dt.date(2023, 1, 1))
    assert list(order_users(User.objects.all(), "emails", None)) == [two, three, one]
    assert list(order_users(User.objects.all(), "emails.value", "descending")) == [one, three, two]
    # Unassigned values come last in both directions.
    assert list(order_users(User.objects.all(), f"{AXERO}:hireDate", None)) == [three, one, two]
    assert list(order_users(User.objects.all(), "hireDate", "descending")) == [one, three, two]
    assert list(order_users(User.objects.all(), "meta.created", None)) == [one, two, three]


@pytest.mark.django_db
def test_sort_by_custom_number_field():
    CustomFieldFactory(key="level", type="number")
    ten = UserFactory(username="ten", custom={"level": 10})
    nine = UserFactory(username="nine", custom={"level": 9})
    none = UserFactory(username="none", custom={})
    assert list(order_users(User.objects.all(), f"{AXERO}:level", None)) == [nine, ten, none]


@pytest.mark.django_db
def test_sort_groups_by_display_name():
    beta = RoleFactory(display_name="beta")
    alpha = RoleFactory(display_name="Alpha")
    assert list(order_groups(Role.objects.all(), "displayName", None)) == [alpha, beta]
    assert list(order_groups(Role.objects.all(), None, None)) == [beta, alpha]


@pytest.mark.parametrize(
    ("sort_by", "sort_order", "message"),
    [
        ("favouriteColour", None, "unknown attribute 'favouriteColour'"),
        ("groups", None, "sortBy 'groups': not a single-valued attribute that can be sorted"),
        ("name", None, "sortBy 'name': not a single-valued attribute that can be sorted"),
        (
            'emails[type eq "work"]',
            None,
            "sortBy 'emails[type eq \"work\"]': name one attribute, without a filter",
        ),
        ("nickName", None, "sortBy 'nickName': not a single-valued attribute that can be sorted"),
        ("userName", "sideways", "sortOrder 'sideways': use ascending or descending"),
    ],
)
@pytest.mark.django_db
def test_invalid_sorts_are_refused(sort_by, sort_order, message):
    with pytest.raises(InvalidFilter) as caught:
        order_users(User.objects.none(), sort_by, sort_order)
    assert caught.value.detail == message


def test_groups_cannot_be_sorted_by_members():
    with pytest.raises(InvalidFilter) as caught:
        order_groups(Role.objects.none(), "members", None)
    assert (
        caught.value.detail == "sortBy 'members': not a single-valued attribute that can be sorted"
    )


@pytest.mark.django_db
def test_sort_by_custom_key_with_double_underscore():
    CustomFieldFactory(key="team__size", type="number")
    big = UserFactory(username="big", custom={"team__size": 12})
    small = UserFactory(username="small", custom={"team__size": 3})
    nested = UserFactory(username="nested", custom={"team": {"size": 1}})
    assert list(order_users(User.objects.all(), f"{AXERO}:team__size", None)) == [
        small,
        big,
        nested,
    ]


@pytest.mark.parametrize(
    ("resource", "urn", "expected"),
    [
        ("User", "urn:ietf:params:scim:schemas:core:2.0:User", USER_SCHEMA),
        ("User", "URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER", USER_SCHEMA),
        ("User", "urn:scim:schemas:core:2.0", USER_SCHEMA),
        ("User", "urn:scim:schemas:core:1.0", USER_SCHEMA),
        ("Group", "urn:scim:schemas:core:2.0", GROUP_SCHEMA),
        ("Group", "urn:ietf:params:scim:schemas:core:2.0:User", None),
        ("User", "urn:ietf:params:scim:schemas:core:2.0:Group", None),
        ("User", ENTERPRISE, ENTERPRISE),
        ("User", "urn:scim:schemas:extension:enterprise:2.0", ENTERPRISE),
        ("User", AXERO, AXERO),
        ("User", "urn:scim:schemas:extension:axero:2.0", AXERO),
        # OneLogin's custom attributes live under the customer's own extension name.
        ("User", "urn:ietf:params:scim:schemas:extension:acme:2.0:User", AXERO),
        ("User", "urn:scim:schemas:extension:acme:2.0", AXERO),
        ("Group", "urn:ietf:params:scim:schemas:extension:acme:2.0:User", None),
        ("User", "urn:ietf:params:scim:schemas:extension:acme:1.0:Thing", None),
        ("User", "urn:example:other", None),
    ],
)
def test_schema_for_urn(resource, urn, expected):
    assert schema_for_urn(resource, urn) == expected


@pytest.mark.django_db
def test_sort_by_formatted_name_and_manager_display_name():
    boss = UserFactory(username="boss", first_name="Zed", last_name="A", display_name="Boss")
    amy = UserFactory(username="amy", first_name="Amy", last_name="Z", manager=boss)
    ann = UserFactory(username="ann", first_name="Amy", last_name="B")
    assert list(order_users(User.objects.all(), "name.formatted", None)) == [ann, amy, boss]
    by_manager = list(order_users(User.objects.all(), f"{ENTERPRISE}:manager.displayName", None))
    assert by_manager[0] == amy  # the others have no manager: last
