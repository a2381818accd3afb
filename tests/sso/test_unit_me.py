"""GET /api/v1/me/: the logged-in user's profile as JSON."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.factories import RoleFactory, RoleMembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_anonymous_gets_a_json_401(client):
    response = client.get("/api/v1/me/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="axero-idp"'
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_a_provisioning_token_is_not_a_person(client, provisioning_token):
    response = client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {provisioning_token}")

    assert response.status_code == 403
    assert response.json() == {"detail": "You do not have permission to perform this action."}


def test_a_bad_token_is_a_401(client):
    response = client.get("/api/v1/me/", HTTP_AUTHORIZATION="Bearer not-a-token")

    assert response.status_code == 401
    assert response.json() == {"detail": "invalid or revoked provisioning token"}


def test_profile_of_the_logged_in_user(client):
    boss = UserFactory(username="boss@example.com", first_name="Bo", last_name="Ss")
    user = UserFactory(
        username="ann@example.com",
        email="ann@example.com",
        first_name="Ann",
        last_name="Lee",
        title="Engineer",
        department="R&D",
        manager=boss,
        hire_date=dt.date(2024, 3, 1),
        custom={"persona": "engineer"},
    )
    engineering = RoleFactory(display_name="Engineering")
    RoleMembershipFactory(role=engineering, user=user, source="saml:onelogin")
    RoleMembershipFactory(role=engineering, user=user, source="scim")
    RoleMembershipFactory(role=RoleFactory(display_name="Berlin"), user=user, source="manual")
    client.force_login(user)

    response = client.get("/api/v1/me/")

    assert response.status_code == 200
    assert response.json() == {
        "id": str(user.pk),
        "userName": "ann@example.com",
        "email": "ann@example.com",
        "firstName": "Ann",
        "lastName": "Lee",
        "displayName": "Ann Lee",
        "title": "Engineer",
        "department": "R&D",
        "manager": {"id": str(boss.pk), "userName": "boss@example.com", "displayName": "Bo Ss"},
        "hireDate": "2024-03-01",
        "custom": {"persona": "engineer"},
        "roles": ["Berlin", "Engineering"],
        "imageUrl": None,
    }


def test_profile_without_manager_or_hire_date(client):
    user = UserFactory(username="solo", email="", first_name="", last_name="")
    client.force_login(user)

    body = client.get("/api/v1/me/").json()

    assert (body["manager"], body["hireDate"], body["roles"], body["displayName"]) == (
        None,
        None,
        [],
        "solo",
    )
