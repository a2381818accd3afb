"""Reads: get, list, .search, paging, sorting, projections, ETags."""

from __future__ import annotations

import pytest

from tests.factories import RoleFactory, RoleMembershipFactory, UserFactory
from tests.scim.conftest import ENTERPRISE, GROUP_SCHEMA, LIST, USER_SCHEMA

pytestmark = pytest.mark.django_db


def test_get_user_renders_every_kept_attribute(scim):
    boss = UserFactory()
    user = UserFactory(
        username="full@example.com",
        email="full@example.com",
        first_name="Full",
        last_name="User",
        display_name="Full User",
        title="CTO",
        external_id="ext-9",
        employee_number="9",
        cost_center="CC",
        organization="Org",
        division="Div",
        department="Dept",
        manager=boss,
        photo_url="https://img.example.com/p.png",
    )
    role = RoleFactory(display_name="Admins")
    RoleMembershipFactory(role=role, user=user, source="manual")

    response = scim.get(f"/Users/{user.pk}")

    body = response.json()
    assert response["ETag"] == 'W/"1"'
    assert body == {
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "id": str(user.pk),
        "externalId": "ext-9",
        "userName": "full@example.com",
        "name": {"givenName": "Full", "familyName": "User"},
        "displayName": "Full User",
        "title": "CTO",
        "active": True,
        "emails": [{"value": "full@example.com", "type": "work"}],
        "photos": [{"value": "https://img.example.com/p.png", "type": "photo"}],
        ENTERPRISE: {
            "employeeNumber": "9",
            "costCenter": "CC",
            "organization": "Org",
            "division": "Div",
            "department": "Dept",
            "manager": {
                "value": str(boss.pk),
                "$ref": f"http://127.0.0.1:8000/scim/v2/Users/{boss.pk}",
            },
        },
        "meta": body["meta"],
    }
    assert set(body["meta"]) == {"resourceType", "created", "lastModified", "location", "version"}


def test_groups_are_returned_when_asked_for(scim):
    user = UserFactory()
    role = RoleFactory(display_name="Admins")
    RoleMembershipFactory(role=role, user=user, source="manual")

    body = scim.get(f"/Users/{user.pk}?attributes=userName,groups").json()
    listed = scim.get("/Users?attributes=groups").json()["Resources"][0]

    groups = [
        {
            "value": str(role.pk),
            "$ref": f"http://127.0.0.1:8000/scim/v2/Groups/{role.pk}",
            "display": "Admins",
            "type": "direct",
        }
    ]
    assert body["groups"] == groups
    assert listed["groups"] == groups


def test_attributes_selects_and_always_keeps_id_and_schemas(scim):
    user = UserFactory(username="a@example.com", first_name="A", last_name="B", department="D")

    body = scim.get(
        f"/Users/{user.pk}?attributes=userName,name.givenName,{ENTERPRISE}:department"
    ).json()

    assert body == {
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "id": str(user.pk),
        "userName": "a@example.com",
        "name": {"givenName": "A"},
        ENTERPRISE: {"department": "D"},
    }


def test_excluded_attributes_drop_attributes_and_sub_attributes(scim):
    user = UserFactory(first_name="A", last_name="B")

    body = scim.get(
        f"/Users/{user.pk}?excludedAttributes=emails,name.familyName,meta,groups"
    ).json()

    assert set(body) == {"schemas", "id", "userName", "name", "active"}
    assert body["name"] == {"givenName": "A"}


def test_schemas_name_only_the_extensions_the_projection_kept(scim):
    user = UserFactory(department="D")

    body = scim.get(f"/Users/{user.pk}?attributes=userName").json()

    assert body == {"schemas": [USER_SCHEMA], "id": str(user.pk), "userName": user.username}


def test_if_none_match_with_the_current_version_is_304(scim):
    user = UserFactory()

    response = scim.get(f"/Users/{user.pk}", headers={"If-None-Match": 'W/"1"'})
    changed = scim.get(f"/Users/{user.pk}", headers={"If-None-Match": 'W/"0"'})

    assert response.status_code == 304
    assert response.content == b""
    assert changed.status_code == 200


def test_if_match_with_the_current_version_lets_the_write_through(scim):
    user = UserFactory(username="etag@example.com")

    response = scim.put(
        f"/Users/{user.pk}",
        {"userName": "etag@example.com", "title": "T"},
        headers={"If-Match": 'W/"1"'},
    )

    assert response.status_code == 200
    assert response["ETag"] == 'W/"2"'
    assert response.json()["meta"]["version"] == 'W/"2"'


def test_count_zero_gives_the_total_only(scim):
    UserFactory.create_batch(3)

    body = scim.get("/Users?count=0").json()

    assert body == {
        "schemas": [LIST],
        "totalResults": 3,
        "startIndex": 1,
        "itemsPerPage": 0,
        "Resources": [],
    }


def test_start_index_below_one_is_one_and_count_is_capped(scim):
    UserFactory.create_batch(2)

    body = scim.get("/Users?startIndex=-5&count=5000").json()

    assert (body["startIndex"], body["itemsPerPage"], body["totalResults"]) == (1, 2, 2)


def test_sort_by_username_descending(scim):
    for name in ("b@x.com", "c@x.com", "a@x.com"):
        UserFactory(username=name)

    body = scim.get("/Users?sortBy=userName&sortOrder=descending&attributes=userName").json()

    assert [r["userName"] for r in body["Resources"]] == ["c@x.com", "b@x.com", "a@x.com"]


def test_users_search_takes_a_search_request_body(scim):
    UserFactory(username="find@example.com")
    UserFactory(username="other@example.com")

    response = scim.post(
        "/Users/.search",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": 'userName sw "find"',
            "attributes": ["userName"],
            "startIndex": 1,
            "count": 10,
        },
    )

    assert response.status_code == 200
    assert [r["userName"] for r in response.json()["Resources"]] == ["find@example.com"]
    assert set(response.json()["Resources"][0]) == {"schemas", "id", "userName"}


def test_root_search_returns_users_then_groups_paged_as_one_list(scim):
    user = UserFactory(display_name="Shared")
    role = RoleFactory(display_name="Shared")

    body = scim.post("/.search", {"filter": 'displayName eq "Shared"', "count": 10}).json()
    second = scim.post(
        "/.search", {"filter": 'displayName eq "Shared"', "startIndex": 2, "count": 1}
    ).json()

    assert [r["id"] for r in body["Resources"]] == [str(user.pk), str(role.pk)]
    assert body["totalResults"] == 2
    assert [r["id"] for r in second["Resources"]] == [str(role.pk)]


def test_root_search_with_a_user_only_attribute_searches_users(scim):
    user = UserFactory(username="only@example.com")

    body = scim.post("/.search", {"filter": 'userName eq "only@example.com"'}).json()

    assert [r["id"] for r in body["Resources"]] == [str(user.pk)]


def test_group_get_lists_scim_members_with_refs(scim):
    role = RoleFactory(display_name="Team")
    members = sorted(
        (RoleMembershipFactory(role=role, source="scim").user for _ in range(2)), key=lambda u: u.pk
    )

    body = scim.get(f"/Groups/{role.pk}").json()

    assert body == {
        "schemas": [GROUP_SCHEMA],
        "id": str(role.pk),
        "displayName": "Team",
        "members": [
            {
                "value": str(u.pk),
                "$ref": f"http://127.0.0.1:8000/scim/v2/Users/{u.pk}",
                "type": "User",
            }
            for u in members
        ],
        "meta": body["meta"],
    }


def test_group_patch_with_attributes_answers_200_with_the_group_as_asked(scim):
    role = RoleFactory(display_name="Asked")
    user = UserFactory()

    response = scim.patch(
        f"/Groups/{role.pk}?attributes=displayName",
        {"Operations": [{"op": "add", "path": "members", "value": [{"value": str(user.pk)}]}]},
    )

    assert response.status_code == 200
    assert response.json() == {
        "schemas": [GROUP_SCHEMA],
        "id": str(role.pk),
        "displayName": "Asked",
    }


def test_group_put_replaces_name_and_scim_members(scim):
    role = RoleFactory(display_name="Old")
    RoleMembershipFactory(role=role, source="scim")
    newcomer = UserFactory()

    body = scim.put(
        f"/Groups/{role.pk}", {"displayName": "New", "members": [{"value": str(newcomer.pk)}]}
    ).json()

    assert body["displayName"] == "New"
    assert [m["value"] for m in body["members"]] == [str(newcomer.pk)]


def test_group_delete_then_get_is_404(scim):
    role = RoleFactory()

    assert scim.delete(f"/Groups/{role.pk}").status_code == 204
    assert scim.get(f"/Groups/{role.pk}").status_code == 404


def test_a_lookup_that_fits_one_page_skips_the_count_and_still_totals(scim):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    UserFactory(username="one@example.com")
    UserFactory.create_batch(2)
    scim.get("/ServiceProviderConfig")  # the token's last use is recorded first

    with CaptureQueriesContext(connection) as ctx:
        body = scim.get('/Users?filter=userName eq "one@example.com"').json()

    assert body["totalResults"] == 1
    assert not [q for q in ctx.captured_queries if "COUNT(" in q["sql"]]
    assert scim.get("/Users?startIndex=3&count=5").json()["totalResults"] == 3
    assert scim.get("/Users?startIndex=9&count=5").json()["totalResults"] == 3


def test_a_trailing_slash_is_accepted(scim):
    user = UserFactory()

    assert scim.get("/Users/").json()["totalResults"] == 1
    assert scim.get(f"/Users/{user.pk}/").json()["id"] == str(user.pk)
    assert scim.get("/ServiceProviderConfig/").status_code == 200


def test_group_writes_honour_if_match(scim):
    role = RoleFactory(display_name="Versioned")
    user = UserFactory()
    body = {"Operations": [{"op": "add", "path": "members", "value": [{"value": str(user.pk)}]}]}

    stale = scim.patch(f"/Groups/{role.pk}", body, headers={"If-Match": 'W/"7"'})
    fresh = scim.patch(f"/Groups/{role.pk}", body, headers={"If-Match": 'W/"1"'})
    delete_stale = scim.delete(f"/Groups/{role.pk}", headers={"If-Match": 'W/"1"'})

    assert stale.status_code == 412
    assert fresh.status_code == 204
    assert fresh["ETag"] == 'W/"2"'
    assert delete_stale.status_code == 412


def test_put_without_active_keeps_a_deactivated_user_deactivated(scim):
    user = UserFactory(username="off@example.com", is_active=False)

    body = scim.put(f"/Users/{user.pk}", {"userName": "off@example.com", "title": "T"}).json()

    assert body["active"] is False
    assert body["title"] == "T"
