"""PATCH edge cases found by review (RFC 7644 §3.5.2 and the IdP dialects)."""

from __future__ import annotations

import pytest

from tests.factories import RoleFactory, RoleMembershipFactory, UserFactory
from tests.scim.conftest import error
from users.models import RoleMembership

pytestmark = pytest.mark.django_db

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
WORK_ADDRESS = 'addresses[type eq "work"]'


@pytest.mark.parametrize(
    "sub", ["streetAddress", "locality", "region", "postalCode", "country", "formatted"]
)
def test_entra_work_address_patches_are_accepted_and_change_nothing_kept(scim, sub):
    user = UserFactory(title="Engineer")
    body = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "Add", "path": f"{WORK_ADDRESS}.{sub}", "value": "1 Main St"}],
    }

    response = scim.patch(f"/Users/{user.pk}", body)

    assert response.status_code == 200, response.content
    assert response.json()["title"] == "Engineer"
    assert "addresses" not in response.json()


def test_an_unknown_address_sub_attribute_is_invalid_path(scim):
    user = UserFactory()
    body = {"Operations": [{"op": "add", "path": f"{WORK_ADDRESS}.street", "value": "x"}]}

    response = scim.patch(f"/Users/{user.pk}", body)

    assert response.json() == error(
        400, "unknown sub-attribute 'street' of 'addresses'", "invalidPath"
    )


def _scim_members(role):
    return set(
        RoleMembership.objects.filter(role=role, source="scim").values_list("user_id", flat=True)
    )


def test_replacing_a_filtered_member_swaps_only_that_member(scim):
    role = RoleFactory()
    kept, replaced, newcomer = UserFactory.create_batch(3)
    for user in (kept, replaced):
        RoleMembershipFactory(role=role, user=user, source="scim")
    op = {
        "op": "replace",
        "path": f'members[value eq "{replaced.pk}"]',
        "value": [{"value": str(newcomer.pk)}],
    }

    response = scim.patch(f"/Groups/{role.pk}", {"schemas": [PATCH_OP], "Operations": [op]})

    assert response.status_code == 204
    assert _scim_members(role) == {kept.pk, newcomer.pk}


def test_replacing_a_filtered_member_that_is_not_there_is_no_target_and_changes_nothing(scim):
    role = RoleFactory()
    member, newcomer = UserFactory.create_batch(2)
    RoleMembershipFactory(role=role, user=member, source="scim")
    # Granted by an admin: not the IdP's to see, so not a match either.
    admin_granted = RoleMembershipFactory(role=role, source="manual").user
    op = {
        "op": "replace",
        "path": f'members[value eq "{admin_granted.pk}"]',
        "value": [{"value": str(newcomer.pk)}],
    }

    response = scim.patch(f"/Groups/{role.pk}", {"schemas": [PATCH_OP], "Operations": [op]})

    assert response.json() == error(
        400, "No member of the group matches the path filter.", "noTarget"
    )
    assert _scim_members(role) == {member.pk}


def test_adding_with_a_filtered_members_path_is_invalid_path(scim):
    role, user = RoleFactory(), UserFactory()
    op = {"op": "add", "path": f'members[value eq "{user.pk}"]', "value": [{"value": str(user.pk)}]}

    response = scim.patch(f"/Groups/{role.pk}", {"Operations": [op]})

    assert response.json() == error(400, "add takes the plain path 'members'.", "invalidPath")


def test_removing_members_with_an_empty_value_list_removes_none(scim):
    role = RoleFactory()
    members = UserFactory.create_batch(2)
    for user in members:
        RoleMembershipFactory(role=role, user=user, source="scim")
    op = {"op": "Remove", "path": "members", "value": []}

    response = scim.patch(f"/Groups/{role.pk}", {"schemas": [PATCH_OP], "Operations": [op]})

    assert response.status_code == 204
    assert _scim_members(role) == {u.pk for u in members}


def test_removing_members_without_a_value_removes_every_scim_member_only(scim):
    role = RoleFactory()
    RoleMembershipFactory(role=role, source="scim")
    admin_granted = RoleMembershipFactory(role=role, source="manual")
    op = {"op": "remove", "path": "members"}

    response = scim.patch(f"/Groups/{role.pk}", {"schemas": [PATCH_OP], "Operations": [op]})

    assert response.status_code == 204
    assert _scim_members(role) == set()
    assert RoleMembership.objects.filter(role=role).get() == admin_granted
