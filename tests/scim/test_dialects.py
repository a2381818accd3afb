"""Request shapes real identity providers send (SCIM_DIALECTS.md), answered in RFC form."""

from __future__ import annotations

import pytest

from tests.factories import RoleFactory, RoleMembershipFactory, UserFactory
from tests.scim.conftest import AXERO, ENTERPRISE, GROUP_SCHEMA, LIST, PATCH_OP, USER_SCHEMA
from users.models import RoleMembership, User
from users.services import Actor, custom_field_define

pytestmark = pytest.mark.django_db


def _empty_list() -> dict:
    return {
        "schemas": [LIST],
        "totalResults": 0,
        "startIndex": 1,
        "itemsPerPage": 0,
        "Resources": [],
    }


# ---- OneLogin ------------------------------------------------------------------------


def test_onelogin_connection_test_gets_an_empty_list_response(scim):
    response = scim.get('/Users?filter=userName eq "no-such-user@example.com"')

    assert response.status_code == 200
    assert response["Content-Type"] == "application/scim+json"
    assert response.json() == _empty_list()


def test_onelogin_template_with_short_urns_object_email_string_booleans_and_company_extension(scim):
    custom_field_define(key="persona", type="string", actor=Actor.system("t"))
    manager = UserFactory(username="boss@example.com", external_id="ol-1")
    body = {
        "schemas": ["urn:scim:schemas:core:2.0", "urn:scim:schemas:extension:enterprise:2.0"],
        "userName": "ada@example.com",
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": {"value": "ada@example.com", "type": "work", "primary": "true"},
        "active": "true",
        "title": "Engineer",
        "urn:scim:schemas:extension:enterprise:2.0": {
            "department": "R&D",
            "employeeNumber": "42",
            "manager": {"managerId": "ol-1"},
        },
        "urn:ietf:params:scim:schemas:extension:acme:2.0:User": {
            "persona": "builder",
            "hireDate": "3/1/2024",
        },
    }

    response = scim.post("/Users", body)

    assert response.status_code == 201
    user = User.objects.get(username="ada@example.com")
    assert (user.first_name, user.last_name, user.email, user.title) == (
        "Ada",
        "Lovelace",
        "ada@example.com",
        "Engineer",
    )
    assert (user.department, user.employee_number, user.manager_id) == ("R&D", "42", manager.pk)
    assert user.custom == {"persona": "builder"}
    assert str(user.hire_date) == "2024-03-01"
    assert user.is_active is True
    assert response.json() == {
        "schemas": [USER_SCHEMA, ENTERPRISE, AXERO],
        "id": str(user.pk),
        "userName": "ada@example.com",
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "title": "Engineer",
        "active": True,
        "emails": [{"value": "ada@example.com", "type": "work"}],
        ENTERPRISE: {
            "employeeNumber": "42",
            "department": "R&D",
            "manager": {
                "value": str(manager.pk),
                "$ref": f"http://127.0.0.1:8000/scim/v2/Users/{manager.pk}",
            },
        },
        AXERO: {"hireDate": "2024-03-01T00:00:00Z", "persona": "builder"},
        "meta": {
            "resourceType": "User",
            "created": response.json()["meta"]["created"],
            "lastModified": response.json()["meta"]["lastModified"],
            "location": f"http://127.0.0.1:8000/scim/v2/Users/{user.pk}",
            "version": 'W/"1"',
        },
    }
    assert response["Location"] == f"http://127.0.0.1:8000/scim/v2/Users/{user.pk}"
    assert response["ETag"] == 'W/"1"'


@pytest.mark.parametrize(
    ("manager", "key"),
    [
        ({"value": "{id}"}, "id"),
        ({"managerId": "{external_id}"}, "external_id"),
        ("{username}", "username"),
    ],
)
def test_onelogin_manager_shapes_resolve_by_id_external_id_then_username(scim, manager, key):
    boss = UserFactory(username="boss@example.com", external_id="ext-boss")
    values = {"id": str(boss.pk), "external_id": "ext-boss", "username": "BOSS@example.com"}
    shaped = (
        {k: v.format(**values) for k, v in manager.items()}
        if isinstance(manager, dict)
        else manager.format(**values)
    )

    response = scim.post("/Users", {"userName": "rep@example.com", ENTERPRISE: {"manager": shaped}})

    assert response.status_code == 201
    assert User.objects.get(username="rep@example.com").manager_id == boss.pk


def test_onelogin_manager_who_does_not_exist_yet_is_linked_when_they_arrive(scim):
    scim.post(
        "/Users", {"userName": "rep@example.com", ENTERPRISE: {"manager": {"value": "ext-later"}}}
    )
    report = User.objects.get(username="rep@example.com")
    assert (report.manager_id, report.pending_manager_ref) == (None, "ext-later")

    response = scim.post("/Users", {"userName": "late@example.com", "externalId": "ext-later"})

    report.refresh_from_db()
    assert (
        report.manager_id == response.json()["id"]
        or str(report.manager_id) == response.json()["id"]
    )
    assert report.pending_manager_ref == ""


def test_onelogin_full_put_clears_what_the_template_left_out(scim):
    created = scim.post(
        "/Users",
        {
            "userName": "put@example.com",
            "title": "Old title",
            "name": {"givenName": "P", "familyName": "Q"},
            ENTERPRISE: {"department": "Sales"},
        },
    ).json()

    response = scim.put(
        f"/Users/{created['id']}",
        {"schemas": [USER_SCHEMA], "userName": "put@example.com", "name": {"givenName": "P"}},
    )

    assert response.status_code == 200
    user = User.objects.get(pk=created["id"])
    assert (user.first_name, user.last_name, user.title, user.department) == ("P", "", "", "")
    assert user.is_active is True  # active left out of a PUT is kept
    assert response.json()["name"] == {"givenName": "P"}
    assert "title" not in response.json()
    assert ENTERPRISE not in response.json()


def test_onelogin_refresh_entitlements_lists_groups(scim):
    role = RoleFactory(display_name="Engineering")

    response = scim.get("/Groups")

    assert response.json()["totalResults"] == 1
    assert response.json()["Resources"][0]["displayName"] == "Engineering"
    assert response.json()["Resources"][0]["id"] == str(role.pk)


def test_onelogin_suspend_deactivates_and_delete_removes(scim):
    user_id = scim.post("/Users", {"userName": "gone@example.com"}).json()["id"]

    suspended = scim.put(f"/Users/{user_id}", {"userName": "gone@example.com", "active": "false"})
    deleted = scim.delete(f"/Users/{user_id}")

    assert suspended.json()["active"] is False
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert scim.get(f"/Users/{user_id}").status_code == 404
    assert not User.objects.filter(pk=user_id).exists()


# ---- Okta ----------------------------------------------------------------------------


def test_okta_lookup_before_create_is_case_insensitive_and_paged(scim):
    user = UserFactory(username="Okta.User@Example.com")

    response = scim.get('/Users?filter=userName eq "okta.user@example.com"&startIndex=1&count=100')

    body = response.json()
    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"]) == (1, 1, 1)
    assert body["Resources"][0]["id"] == str(user.pk)


def test_okta_duplicate_username_is_409_uniqueness(scim):
    UserFactory(username="dup@example.com")

    response = scim.post("/Users", {"userName": "DUP@example.com"})

    assert response.status_code == 409
    assert response.json() == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": "409",
        "scimType": "uniqueness",
        "detail": "userName 'DUP@example.com' is already taken",
    }


def test_okta_import_pages_are_stable_and_counted(scim):
    for n in range(5):
        UserFactory(username=f"page{n}@example.com")

    first = scim.get("/Users?startIndex=1&count=2").json()
    second = scim.get("/Users?startIndex=3&count=2").json()
    third = scim.get("/Users?startIndex=5&count=2").json()

    ids = [r["id"] for page in (first, second, third) for r in page["Resources"]]
    assert len(ids) == len(set(ids)) == 5
    assert [p["totalResults"] for p in (first, second, third)] == [5, 5, 5]
    assert [p["itemsPerPage"] for p in (first, second, third)] == [2, 2, 1]
    assert [p["startIndex"] for p in (first, second, third)] == [1, 3, 5]


def test_okta_deactivation_is_a_no_path_replace_with_active_false(scim):
    user_id = scim.post("/Users", {"userName": "okta@example.com"}).json()["id"]

    response = scim.patch(
        f"/Users/{user_id}",
        {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]},
    )

    assert response.status_code == 200
    assert response.json()["active"] is False
    user = User.objects.get(pk=user_id)
    assert user.is_active is False
    assert user.deactivated_at is not None


def test_okta_group_lifecycle_create_rename_add_remove_replace(scim):
    alice, bob, carol = (UserFactory() for _ in range(3))
    group = scim.post(
        "/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Okta Group", "members": []}
    )
    assert group.status_code == 201
    gid = group.json()["id"]

    renamed = scim.patch(
        f"/Groups/{gid}",
        {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "value": {"id": gid, "displayName": "Renamed"}}],
        },
    )
    added = scim.patch(
        f"/Groups/{gid}",
        {
            "Operations": [
                {
                    "op": "add",
                    "path": "members",
                    "value": [{"value": str(alice.pk)}, {"value": str(bob.pk)}],
                }
            ]
        },
    )
    removed = scim.patch(
        f"/Groups/{gid}",
        {"Operations": [{"op": "remove", "path": f'members[value eq "{alice.pk}"]'}]},
    )
    replaced = scim.patch(
        f"/Groups/{gid}",
        {"Operations": [{"op": "replace", "path": "members", "value": [{"value": str(carol.pk)}]}]},
    )

    assert [r.status_code for r in (renamed, added, removed, replaced)] == [204, 204, 204, 204]
    assert all(r.content == b"" for r in (renamed, added, removed, replaced))
    group = scim.get(f"/Groups/{gid}").json()
    assert group["displayName"] == "Renamed"
    assert [m["value"] for m in group["members"]] == [str(carol.pk)]


# ---- Entra ID ------------------------------------------------------------------------


def test_entra_filters_on_external_id_work_email_and_group_display_name(scim):
    user = UserFactory(username="entra@example.com", email="work@example.com", external_id="aad-1")
    role = RoleFactory(display_name="Entra Group")

    by_external = scim.get('/Users?filter=externalId eq "aad-1"').json()
    by_email = scim.get('/Users?filter=emails[type eq "work"].value eq "work@example.com"').json()
    both = scim.get(
        '/Users?filter=userName eq "entra@example.com" and externalId eq "aad-1"'
    ).json()
    group = scim.get(
        '/Groups?filter=displayName eq "Entra Group"&excludedAttributes=members'
    ).json()

    assert [r["id"] for r in by_external["Resources"]] == [str(user.pk)]
    assert [r["id"] for r in by_email["Resources"]] == [str(user.pk)]
    assert [r["id"] for r in both["Resources"]] == [str(user.pk)]
    assert group["Resources"] == [
        {
            "schemas": [GROUP_SCHEMA],
            "id": str(role.pk),
            "displayName": "Entra Group",
            "meta": group["Resources"][0]["meta"],
        }
    ]


def test_entra_capitalised_ops_string_booleans_dotted_and_urn_keys(scim):
    user_id = scim.post("/Users", {"userName": "e@example.com"}).json()["id"]

    response = scim.patch(
        f"/Users/{user_id}",
        {
            "schemas": [PATCH_OP],
            "Operations": [
                {
                    "op": "Replace",
                    "value": {
                        "name.givenName": "Grace",
                        "name.familyName": "Hopper",
                        f"{ENTERPRISE}:employeeNumber": "7",
                        "active": "False",
                    },
                },
                {"op": "Add", "path": 'emails[type eq "work"].value', "value": "grace@example.com"},
            ],
        },
    )

    assert response.status_code == 200
    user = User.objects.get(pk=user_id)
    assert (user.first_name, user.last_name, user.employee_number, user.email, user.is_active) == (
        "Grace",
        "Hopper",
        "7",
        "grace@example.com",
        False,
    )

    scim.patch(
        f"/Users/{user_id}",
        {
            "Operations": [
                {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "g2@example.com"}
            ]
        },
    )
    assert User.objects.get(pk=user_id).email == "g2@example.com"


def test_entra_sets_manager_by_path_with_a_bare_string(scim):
    boss = UserFactory()
    user_id = scim.post("/Users", {"userName": "m@example.com"}).json()["id"]

    response = scim.patch(
        f"/Users/{user_id}",
        {"Operations": [{"op": "Add", "path": f"{ENTERPRISE}:manager", "value": str(boss.pk)}]},
    )

    assert response.json()[ENTERPRISE]["manager"] == {
        "value": str(boss.pk),
        "$ref": f"http://127.0.0.1:8000/scim/v2/Users/{boss.pk}",
    }
    assert User.objects.get(pk=user_id).manager_id == boss.pk


def test_entra_removes_members_with_path_members_and_a_value_list(scim):
    alice, bob = UserFactory(), UserFactory()
    gid = scim.post(
        "/Groups",
        {"displayName": "G", "members": [{"value": str(alice.pk)}, {"value": str(bob.pk)}]},
    ).json()["id"]

    response = scim.patch(
        f"/Groups/{gid}",
        {"Operations": [{"op": "Remove", "path": "members", "value": [{"value": str(alice.pk)}]}]},
    )

    assert response.status_code == 204
    assert [m["value"] for m in scim.get(f"/Groups/{gid}").json()["members"]] == [str(bob.pk)]


def test_entra_replay_of_the_same_changes_is_idempotent(scim):
    user = UserFactory()
    gid = scim.post("/Groups", {"displayName": "Replay"}).json()["id"]
    op = {"Operations": [{"op": "Add", "path": "members", "value": [{"value": str(user.pk)}]}]}

    scim.patch(f"/Groups/{gid}", op)
    version = scim.get(f"/Groups/{gid}")["ETag"]
    again = scim.patch(f"/Groups/{gid}", op)

    assert again.status_code == 204
    assert scim.get(f"/Groups/{gid}")["ETag"] == version
    assert RoleMembership.objects.filter(role_id=gid).count() == 1


# ---- Memberships from other sources --------------------------------------------------


def test_scim_members_are_the_scim_granted_ones_and_a_replace_keeps_the_others(scim):
    role = RoleFactory()
    saml_member = RoleMembershipFactory(role=role, source="saml:onelogin").user
    admin_member = RoleMembershipFactory(role=role, source="manual").user
    newcomer = UserFactory()

    listed = scim.get(f"/Groups/{role.pk}").json()
    scim.patch(
        f"/Groups/{role.pk}",
        {
            "Operations": [
                {"op": "replace", "path": "members", "value": [{"value": str(newcomer.pk)}]}
            ]
        },
    )

    assert "members" not in listed
    assert set(RoleMembership.objects.filter(role=role).values_list("user_id", "source")) == {
        (saml_member.pk, "saml:onelogin"),
        (admin_member.pk, "manual"),
        (newcomer.pk, "scim"),
    }


def test_okta_get_then_put_of_the_same_body_changes_nothing(scim):
    custom_field_define(key="start", type="date", actor=Actor.system("t"))
    boss = UserFactory()
    created = scim.post(
        "/Users",
        {
            "userName": "roundtrip@example.com",
            "name": {"givenName": "R", "familyName": "T"},
            "emails": [{"value": "rt@example.com", "type": "work", "primary": True}],
            ENTERPRISE: {"manager": {"value": str(boss.pk)}, "department": "D"},
            AXERO: {"hireDate": "2024-01-02", "start": "2024-02-03"},
        },
    ).json()
    RoleMembershipFactory(user_id=created["id"], source="manual")
    fetched = scim.get(f"/Users/{created['id']}").json()

    response = scim.put(f"/Users/{created['id']}", fetched)

    assert response.status_code == 200
    assert response.json() == fetched
    assert response["ETag"] == 'W/"1"'
