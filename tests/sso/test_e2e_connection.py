"""One connection, two protocols (issue 10, item 1 and 2): a SCIM token bound to an IdP
provisions people, and that IdP's SAML login links them on the first sign-in, with no
switch to turn on; the precedence rule decides whose attributes win afterwards.
Performed against the real SCIM API and ACS, with the pysaml2 IdP."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from sso.models import SamlIdentity
from tests.scim.conftest import ScimClient
from tests.sso.conftest import SLUG, assert_refused, idp_import, idp_update, roles_of
from tests.sso.idp_peer import IdpPeer
from users.models import AuditEvent, User

pytestmark = pytest.mark.django_db(transaction=False)

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _token(name: str, *idp: str) -> str:
    out = io.StringIO()
    call_command(
        "scim_token", "create", "--name", name, *(("--idp", idp[0]) if idp else ()), stdout=out
    )
    return out.getvalue().strip().splitlines()[-1]


def _provision(scim: ScimClient, user_name: str, **extra) -> dict:
    body = {
        "schemas": [CORE],
        "userName": user_name,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"value": "ada@example.com", "primary": True}],
        "externalId": "00u-ada",
        "active": True,
        **extra,
    }
    response = scim.post("/Users", body)
    assert response.status_code == 201, response.content
    return response.json()


@pytest.fixture
def bound(peer, client) -> ScimClient:
    return ScimClient(_token("onelogin-scim", SLUG))


def test_a_user_provisioned_by_a_bound_token_signs_in_on_the_first_try(browser, bound):
    created = _provision(bound, "Ada@Example.com")

    response = browser.login("ada@example.com", {"User.email": "ada@example.com"})

    assert response.status_code == 200, response.content[:500]
    assert browser.logged_in_user_id() == created["id"]
    identity = SamlIdentity.objects.get(idp__slug=SLUG, name_id="ada@example.com")
    assert str(identity.user_id) == created["id"]
    assert User.objects.count() == 1  # no second account


def test_an_unbound_tokens_user_is_still_refused_as_not_linked(browser, peer):
    _provision(ScimClient(_token("unbound")), "ada@example.com")

    response = browser.login("ada@example.com")

    assert_refused(response, browser.client, "account_not_linked", status=409)
    assert not SamlIdentity.objects.exists()


def test_another_connections_user_is_not_linked(browser, peer, peer_keys, tmp_path, client):
    other = IdpPeer(
        tmp_path / "okta",
        entity_id="https://okta.example.test/app/exk1",
        base_url="https://okta.example.test/app",
        key=peer_keys["other-idp"],
    )
    idp_import(other, "okta")
    _provision(ScimClient(_token("okta-scim", "okta")), "ada@example.com")

    response = browser.login("ada@example.com")

    assert_refused(response, client, "account_not_linked", status=409)


def test_a_deactivated_scim_user_who_never_signed_in_is_refused_as_inactive(browser, bound):
    created = _provision(bound, "ada@example.com")
    patch = {
        "schemas": [PATCH],
        "Operations": [{"op": "replace", "path": "active", "value": False}],
    }
    assert bound.patch(f"/Users/{created['id']}", patch).status_code == 200

    response = browser.login("ada@example.com")

    assert_refused(response, browser.client, "user_inactive", status=403)


@pytest.mark.parametrize(
    ("link_key", "name_id"),
    [("email", "ADA@example.com"), ("externalId", "00u-ada")],
)
def test_the_link_key_names_which_attribute_equals_the_name_id(browser, bound, link_key, name_id):
    created = _provision(bound, "ada.lovelace")
    idp_update(SLUG, link_key=link_key)

    browser.login(name_id, {"User.email": "ada@example.com"})

    assert browser.logged_in_user_id() == created["id"]


def test_external_id_is_compared_exactly(browser, bound):
    _provision(bound, "ada.lovelace")
    idp_update(SLUG, link_key="externalId")

    browser.login("00U-ADA", {"User.email": "someone@example.com"})

    # Not linked: a new just-in-time account for that NameID instead.
    assert User.objects.count() == 2


def test_a_user_taken_into_the_connection_by_a_bound_update_links_too(browser, peer):
    created = _provision(ScimClient(_token("unbound")), "ada@example.com")
    bound = ScimClient(_token("bound", SLUG))
    patch = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "title", "value": "CTO"}]}
    assert bound.patch(f"/Users/{created['id']}", patch).status_code == 200

    browser.login("ada@example.com")

    assert browser.logged_in_user_id() == created["id"]
    update = AuditEvent.objects.filter(action="user.updated", target_id=created["id"]).latest("id")
    assert "connection" in update.detail["changes"]


def test_scim_precedence_logins_change_neither_profile_nor_roles(browser, bound):
    created = _provision(bound, "ada@example.com", title="Analyst")
    attributes = {
        "User.email": "ada@example.com",
        "User.FirstName": "Augusta",
        "title": "Countess",
        "memberOf": ["Engineering"],
    }

    for _ in range(2):  # a login, then a push, then a login: nothing flips
        browser.login("ada@example.com", attributes)
        browser.client.logout()

    user = User.objects.get(pk=created["id"])
    assert (user.first_name, user.title) == ("Ada", "Analyst")
    assert roles_of(user) == {}
    assert not AuditEvent.objects.filter(action="user.updated", target_id=created["id"]).exists()


def test_saml_precedence_lets_logins_refresh_profile_and_roles(browser, bound):
    created = _provision(bound, "ada@example.com", title="Analyst")
    idp_update(SLUG, attribute_precedence="saml")

    browser.login(
        "ada@example.com",
        {"User.email": "ada@example.com", "title": "Countess", "memberOf": ["Engineering"]},
    )

    user = User.objects.get(pk=created["id"])
    assert user.title == "Countess"
    assert roles_of(user) == {"Engineering": {f"saml:{SLUG}"}}


def test_jit_users_of_the_idp_are_refreshed_at_each_login_whatever_the_precedence(browser):
    browser.login("grace@example.com", {"User.email": "grace@example.com", "title": "Admiral"})
    browser.client.logout()
    browser.login("grace@example.com", {"User.email": "grace@example.com", "title": "Rear admiral"})

    assert User.objects.get(username="grace@example.com").title == "Rear admiral"


def test_binding_a_token_to_an_unknown_idp_fails(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no identity provider 'nope'"):
        _token("x", "nope")


def test_the_token_list_shows_each_tokens_connection(peer):
    _token("bound", SLUG)
    out = io.StringIO()

    call_command("scim_token", "list", stdout=out)

    line = next(row for row in out.getvalue().splitlines() if row.startswith("bound"))
    assert SLUG in line


def test_a_bulk_create_through_a_bound_token_links_on_the_first_sign_in_too(browser, bound):
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [
            {
                "method": "POST",
                "path": "/Users",
                "bulkId": "ada",
                "data": {"schemas": [CORE], "userName": "ada@example.com"},
            }
        ],
    }
    response = bound.post("/Bulk", body)
    assert response.status_code == 200, response.content
    location = response.json()["Operations"][0]["location"]

    browser.login("ada@example.com")

    assert browser.logged_in_user_id() == location.rstrip("/").rsplit("/", 1)[-1]
