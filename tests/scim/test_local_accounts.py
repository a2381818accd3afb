"""SCIM never reaches local accounts (issue 8, finding 4): an account created by
ensure_admin, createsuperuser or in admin is no SCIM resource. A provisioning token
cannot list, find, read, rename, re-email, deactivate or delete it, nor put it in a
group; every attempt looks exactly like one on an id that does not exist."""

from __future__ import annotations

import uuid

import pytest
from django.core.management import call_command

from tests.factories import RoleFactory, UserFactory
from tests.scim.conftest import error
from users.models import RoleMembership, Source, User

pytestmark = pytest.mark.django_db

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture
def local_admin(capsys) -> User:
    """The admin `make run` creates: the only one, so locking it out locks everyone out."""
    call_command("ensure_admin", "--username", "admin")
    capsys.readouterr()
    admin = User.objects.get(username="admin")
    User.objects.filter(pk=admin.pk).update(email="admin@example.com")
    admin.refresh_from_db()
    return admin


@pytest.fixture
def employee() -> User:
    return UserFactory(username="ann@example.com", email="ann@example.com")


def _ids(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {resource["id"] for resource in response.json()["Resources"]}


def _not_found(pk: object) -> dict:
    return error(404, f"User {pk} not found.")


def _unchanged(admin: User) -> None:
    before = (admin.username, admin.email, admin.is_active, admin.version)
    admin.refresh_from_db()
    assert (admin.username, admin.email, admin.is_active, admin.version) == before


def test_list_shows_provisioned_users_only(scim, local_admin, admin_user, employee):
    response = scim.get("/Users?count=1000")

    assert _ids(response) == {str(employee.pk)}
    assert response.json()["totalResults"] == 1


@pytest.mark.parametrize(
    "query",
    [
        'userName eq "admin"',
        'userName eq "root"',
        'emails.value eq "admin@example.com"',
        'emails[value co "admin"]',
        'userName sw "a"',
    ],
)
def test_filters_never_find_a_local_account(scim, local_admin, admin_user, query):
    response = scim.client.get(
        "/scim/v2/Users", {"filter": query}, HTTP_AUTHORIZATION=f"Bearer {scim.token}"
    )

    assert str(local_admin.pk) not in _ids(response)
    assert str(admin_user.pk) not in _ids(response)


@pytest.mark.parametrize("path", ["/Users/.search", "/.search"])
def test_search_never_finds_a_local_account(scim, local_admin, employee, path):
    response = scim.post(
        path,
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": 'userName pr or emails.value co "example.com"',
        },
    )

    assert _ids(response) == {str(employee.pk)}


def test_get_is_404(scim, local_admin):
    response = scim.get(f"/Users/{local_admin.pk}")

    assert (response.status_code, response.json()) == (404, _not_found(local_admin.pk))


def test_put_cannot_rename_or_re_email_or_deactivate(scim, local_admin):
    response = scim.put(
        f"/Users/{local_admin.pk}",
        {
            "schemas": [USER_SCHEMA],
            "userName": "pwned",
            "emails": [{"value": "attacker@evil.test", "primary": True}],
            "active": False,
        },
    )

    assert (response.status_code, response.json()) == (404, _not_found(local_admin.pk))
    _unchanged(local_admin)


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "replace", "path": "active", "value": False},
        {"op": "replace", "value": {"active": False}},
        {"op": "replace", "path": "userName", "value": "pwned"},
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "a@evil.test"},
    ],
)
def test_patch_cannot_touch_it(scim, local_admin, operation):
    response = scim.patch(
        f"/Users/{local_admin.pk}", {"schemas": [PATCH_OP], "Operations": [operation]}
    )

    assert (response.status_code, response.json()) == (404, _not_found(local_admin.pk))
    _unchanged(local_admin)


def test_delete_is_404_and_the_admin_survives(scim, local_admin):
    response = scim.delete(f"/Users/{local_admin.pk}")

    assert (response.status_code, response.json()) == (404, _not_found(local_admin.pk))
    assert User.objects.filter(pk=local_admin.pk, is_active=True).exists()


def test_bulk_cannot_reach_it_either(scim, local_admin):
    response = scim.post(
        "/Bulk",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
            "Operations": [
                {
                    "method": "PATCH",
                    "path": f"/Users/{local_admin.pk}",
                    "data": {"Operations": [{"op": "replace", "value": {"active": False}}]},
                },
                {"method": "DELETE", "path": f"/Users/{local_admin.pk}"},
            ],
        },
    )

    statuses = [op["status"] for op in response.json()["Operations"]]
    assert statuses == ["404", "404"]
    _unchanged(local_admin)


def _member_error(pk: object) -> dict:
    return error(400, f"members: no such user: {pk}", "invalidValue")


@pytest.mark.parametrize("target", ["local", "unknown"])
def test_group_patch_naming_a_local_account_fails_as_for_an_unknown_member(
    scim, local_admin, target
):
    role = RoleFactory(display_name="Admins")
    pk = local_admin.pk if target == "local" else uuid.uuid4()

    response = scim.patch(
        f"/Groups/{role.pk}",
        {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": str(pk)}]}],
        },
    )

    assert (response.status_code, response.json()) == (400, _member_error(pk))
    assert not RoleMembership.objects.filter(role=role).exists()


def test_group_create_and_replace_naming_a_local_account_fail(scim, local_admin, employee):
    members = [{"value": str(employee.pk)}, {"value": str(local_admin.pk)}]
    created = scim.post("/Groups", {"displayName": "Admins", "members": members})
    role = RoleFactory(display_name="Staff")
    replaced = scim.put(f"/Groups/{role.pk}", {"displayName": "Staff", "members": members})

    assert (created.status_code, created.json()) == (400, _member_error(local_admin.pk))
    assert (replaced.status_code, replaced.json()) == (400, _member_error(local_admin.pk))
    assert not RoleMembership.objects.filter(user=local_admin).exists()


def test_a_saml_created_account_is_a_scim_resource(scim):
    jit = UserFactory(username="jit@example.com", source=Source.SAML)

    assert scim.get(f"/Users/{jit.pk}").status_code == 200


ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@pytest.mark.parametrize("ref", ["id", "admin"])
def test_a_manager_reference_never_names_a_local_account(scim, local_admin, employee, ref):
    value = str(local_admin.pk) if ref == "id" else ref

    response = scim.patch(
        f"/Users/{employee.pk}",
        {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "path": f"{ENTERPRISE}:manager", "value": value}],
        },
    )

    assert response.status_code == 200, response.content
    # Kept as a reference that names nobody yet, never linked to the local account.
    assert response.json()[ENTERPRISE]["manager"] == {"value": value}
    employee.refresh_from_db()
    assert (employee.manager_id, employee.pending_manager_ref) == (None, value)
