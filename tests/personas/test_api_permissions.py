"""is_staff is not a permission (issue 8, finding 13): a staff account without model
permissions cannot list a space's members with their emails; the permission admin asks
for (personas.view_spacemembership, or change) decides."""

from __future__ import annotations

import pytest
from django.test import Client

from personas.models import SpaceMembership
from tests.factories import SpaceFactory, UserFactory, staff_with

pytestmark = pytest.mark.django_db

DENIED = {"detail": "You do not have permission to perform this action."}


@pytest.fixture
def space():
    space = SpaceFactory(slug="board")
    SpaceMembership.objects.create(
        space=space, user=UserFactory(email="ceo@example.com"), source="manual", role="member"
    )
    return space


def _get(user, space):
    client = Client()
    client.force_login(user)
    return client.get(f"/api/v1/spaces/{space.slug}/members/")


def test_staff_without_permissions_cannot_list_members(space):
    response = _get(staff_with(), space)

    assert (response.status_code, response.json()) == (403, DENIED)
    assert b"ceo@example.com" not in response.content


def test_staff_with_an_unrelated_permission_cannot_list_members(space):
    assert _get(staff_with("users.view_user"), space).status_code == 403


@pytest.mark.parametrize(
    "perm", ["personas.view_spacemembership", "personas.change_spacemembership"]
)
def test_the_membership_permission_lists_members(space, perm):
    response = _get(staff_with(perm), space)

    assert response.status_code == 200
    assert [m["email"] for m in response.json()["members"]] == ["ceo@example.com"]
