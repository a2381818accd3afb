"""Attribute names are case-insensitive everywhere (RFC 7643 §2.1): in resource bodies,
in the sub-attributes of multi-valued complex values, in schema URN prefixes, PATCH
paths and values, filters, and SearchRequest bodies."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from tests.factories import RoleFactory, UserFactory
from tests.scim.conftest import ENTERPRISE, GROUP_SCHEMA, PATCH_OP, USER_SCHEMA
from users.models import RoleMembership, User

pytestmark = pytest.mark.django_db


def _patch(*operations: dict) -> dict:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def test_post_keeps_the_email_marked_primary_with_capitalised_sub_attributes(scim):
    body = {
        "schemas": [USER_SCHEMA],
        "userName": "ada",
        "emails": [
            {"Value": "home@example.com", "Type": "home"},
            {"Value": "ada@example.com", "Type": "work", "Primary": True},
        ],
    }

    response = scim.post("/Users", body)

    assert response.status_code == 201
    assert response.json()["emails"] == [{"value": "ada@example.com", "type": "work"}]
    assert User.objects.get(username="ada").email == "ada@example.com"


def test_post_reads_upper_case_attribute_sub_attribute_and_schema_urn_names(scim):
    boss = UserFactory(username="boss")
    body = {
        "SCHEMAS": [USER_SCHEMA.upper()],
        "USERNAME": "grace",
        "NAME": {"GIVENNAME": "Grace", "FamilyName": "Hopper"},
        "EMAILS": [{"VALUE": "grace@example.com", "TYPE": "Work"}],
        "PHOTOS": [{"VALUE": "https://img.example.com/g.png", "PRIMARY": "True"}],
        ENTERPRISE.upper(): {"Department": "Navy", "Manager": {"Value": str(boss.pk)}},
    }

    response = scim.post("/Users", body)

    assert response.status_code == 201
    user = User.objects.get(username="grace")
    assert (user.first_name, user.last_name, user.email) == ("Grace", "Hopper", "grace@example.com")
    assert user.photo_url == "https://img.example.com/g.png"
    assert (user.department, user.manager_id) == ("Navy", boss.pk)


def test_post_reads_the_manager_value_in_any_case(scim):
    boss = UserFactory(username="boss")

    response = scim.post(
        "/Users",
        {"userName": "emp", ENTERPRISE: {"MANAGER": {"VALUE": str(boss.pk)}}},
    )

    assert response.status_code == 201
    assert User.objects.get(username="emp").manager_id == boss.pk


def test_patch_add_of_a_capitalised_primary_email_takes_over(scim):
    user = UserFactory(username="ada", email="old@example.com")

    response = scim.patch(
        f"/Users/{user.pk}",
        _patch(
            {
                "op": "add",
                "path": "Emails",
                "value": [{"Value": "new@example.com", "Primary": True}],
            }
        ),
    )

    assert response.status_code == 200
    assert response.json()["emails"] == [{"value": "new@example.com", "type": "work"}]


def test_patch_value_filter_path_and_value_object_in_any_case(scim):
    user = UserFactory(username="ada", email="old@example.com")

    first = scim.patch(
        f"/Users/{user.pk}",
        _patch({"op": "replace", "path": 'EMAILS[TYPE eq "work"].VALUE', "value": "b@example.com"}),
    )
    second = scim.patch(
        f"/Users/{user.pk}",
        _patch(
            {
                "op": "replace",
                "path": 'emails[Type eq "work"]',
                "value": {"Value": "c@example.com", "Primary": True},
            }
        ),
    )

    assert first.status_code == 200
    assert first.json()["emails"] == [{"value": "b@example.com", "type": "work"}]
    assert second.status_code == 200
    assert second.json()["emails"] == [{"value": "c@example.com", "type": "work"}]


def test_patch_paths_with_upper_case_schema_urns_and_an_upper_case_operations_key(scim):
    user = UserFactory(username="ada@example.com")

    response = scim.patch(
        f"/Users/{user.pk}",
        {
            "schemas": [PATCH_OP],
            "OPERATIONS": [
                {"OP": "Replace", "PATH": f"{ENTERPRISE.upper()}:Department", "VALUE": "R&D"},
                {"op": "replace", "path": f"{USER_SCHEMA.upper()}:Name.GivenName", "value": "A"},
                {"op": "replace", "value": {"Name": {"FamilyName": "L"}, "DisplayName": "AL"}},
            ],
        },
    )

    assert response.status_code == 200, response.json()
    user.refresh_from_db()
    assert (user.department, user.first_name, user.last_name, user.display_name) == (
        "R&D",
        "A",
        "L",
        "AL",
    )


def test_filters_with_upper_case_attribute_and_schema_names(scim):
    UserFactory(username="ada", email="ada@example.com", department="R&D")
    UserFactory(username="bob", email="bob@example.com", department="R&D")

    plain = scim.get(
        "/Users?"
        + urlencode(
            {
                "filter": f'EMAILS.VALUE eq "ada@example.com" and {ENTERPRISE.upper()}:DEPARTMENT eq "R&D"'
            }
        )
    )
    value_path = scim.get('/Users?filter=Emails[Type eq "work" and Value eq "ada@example.com"]')

    assert [r["userName"] for r in plain.json()["Resources"]] == ["ada"]
    assert [r["userName"] for r in value_path.json()["Resources"]] == ["ada"]


def test_search_request_attribute_names_in_any_case(scim):
    UserFactory(username="ada")
    UserFactory(username="bob")

    response = scim.post(
        "/Users/.search",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "Filter": 'userName eq "ada"',
            "Attributes": ["UserName"],
            "SortBy": "UserName",
        },
    )

    assert response.status_code == 200
    assert [set(r) for r in response.json()["Resources"]] == [{"schemas", "id", "userName"}]


def test_group_members_with_capitalised_sub_attributes(scim):
    ada, bob = UserFactory(username="ada"), UserFactory(username="bob")

    created = scim.post(
        "/Groups",
        {
            "schemas": [GROUP_SCHEMA],
            "DisplayName": "Eng",
            "Members": [{"Value": str(ada.pk), "Display": "ada"}],
        },
    )
    group_id = created.json()["id"]
    added = scim.patch(
        f"/Groups/{group_id}",
        _patch({"op": "Add", "path": "Members", "value": [{"VALUE": str(bob.pk)}]}),
    )
    removed = scim.patch(
        f"/Groups/{group_id}",
        _patch({"op": "Remove", "path": f'MEMBERS[VALUE eq "{ada.pk}"]'}),
    )

    assert created.status_code == 201
    assert added.status_code in (200, 204)
    assert removed.status_code in (200, 204)
    members = RoleMembership.objects.filter(role_id=group_id).values_list("user_id", flat=True)
    assert list(members) == [bob.pk]


def test_put_with_an_upper_case_id_of_another_resource_is_refused(scim):
    role = RoleFactory(display_name="Eng")

    response = scim.put(
        f"/Groups/{role.pk}",
        {
            "schemas": [GROUP_SCHEMA],
            "ID": "00000000-0000-0000-0000-000000000000",
            "displayName": "X",
        },
    )

    assert response.status_code == 400
    assert response.json()["scimType"] == "mutability"


def test_attributes_and_excluded_attributes_name_attributes_in_any_case(scim):
    user = UserFactory(username="ada@example.com", department="R&D", cost_center="C1")

    only = scim.get(
        f"/Users/{user.pk}?attributes=USERNAME,EMAILS.VALUE,{ENTERPRISE.upper()}:DEPARTMENT"
    )
    without = scim.get(
        f"/Users/{user.pk}?excludedAttributes=Emails,{ENTERPRISE.upper()}:CostCenter"
    )

    assert only.json()["emails"] == [{"value": "ada@example.com"}]
    assert only.json()[ENTERPRISE] == {"department": "R&D"}
    assert "emails" not in without.json()
    assert without.json()[ENTERPRISE] == {"department": "R&D"}


def test_patch_of_the_manager_value_with_a_capitalised_path(scim):
    boss = UserFactory(username="boss@example.com")
    user = UserFactory(username="ada@example.com")

    response = scim.patch(
        f"/Users/{user.pk}",
        _patch(
            {"op": "Replace", "path": f"{ENTERPRISE.upper()}:Manager.Value", "value": str(boss.pk)}
        ),
    )

    assert response.status_code == 200
    assert response.json()[ENTERPRISE]["manager"]["value"] == str(boss.pk)
