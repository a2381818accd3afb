"""Provisioning on SAML login, end to end against the pysaml2 IdP: just-in-time
creation, linking by email, attribute, hire date, custom field, manager and role
mapping, deactivated users, attribute maps (OneLogin defaults, Entra claims, --attribute-map)."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.factories import RoleFactory, RoleMembershipFactory, UserFactory
from tests.sso.conftest import (
    SLUG,
    Browser,
    assert_refused,
    identity_user,
    idp_import,
    idp_update,
    roles_of,
)
from users.models import MembershipSource, User
from users.services import Actor, custom_field_define, user_deactivate

pytestmark = pytest.mark.django_db(transaction=False)

ANN = "ann@example.com"


def test_jit_off_refuses_an_unknown_user(browser, client):
    idp_update(SLUG, jit_create=False)

    response = browser.login(ANN)

    assert_refused(response, client, "jit_disabled", status=400)
    assert not User.objects.filter(email=ANN).exists()


def test_jit_off_still_lets_a_linked_user_in(browser, client):
    browser.login(ANN)
    client.logout()
    idp_update(SLUG, jit_create=False)

    browser.login(ANN)

    assert browser.logged_in_user_id() == str(identity_user(ANN).pk)


def test_link_by_email_attaches_the_existing_account(browser):
    existing = UserFactory(username="ann", email=ANN)
    idp_update(SLUG, link_by_email=True)

    browser.login(ANN)

    assert browser.logged_in_user_id() == str(existing.pk)
    assert identity_user(ANN) == existing
    assert User.objects.filter(email__iexact=ANN).count() == 1


def test_without_link_by_email_an_existing_email_is_not_taken_over(browser):
    existing = UserFactory(username="ann", email=ANN)

    browser.login(ANN)

    assert browser.logged_in_user_id() != str(existing.pk)


def test_second_login_updates_mapped_attributes(browser, client):
    browser.login(ANN, {"User.email": ANN, "User.FirstName": "Ann", "title": "Engineer"})
    client.logout()

    browser.login(
        ANN, {"User.email": ANN, "User.FirstName": "Annie", "title": "Lead", "department": "R&D"}
    )

    user = identity_user(ANN)
    assert (user.first_name, user.title, user.department) == ("Annie", "Lead", "R&D")
    assert User.objects.count() == 1


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("2024-03-15", dt.date(2024, 3, 15)),
        ("3/15/2024", dt.date(2024, 3, 15)),
        ("2023-11-02T00:00:00Z", dt.date(2023, 11, 2)),
    ],
)
def test_hire_date_in_iso_and_us_format(browser, sent, stored):
    browser.login(ANN, {"User.email": ANN, "hireDate": sent})

    assert identity_user(ANN).hire_date == stored


def test_custom_field_and_photo_url_are_mapped(browser):
    custom_field_define(key="persona", type="string", label="Persona", actor=Actor.system("tests"))

    browser.login(
        ANN, {"User.email": ANN, "persona": "builder", "photo": "https://img.example/ann.png"}
    )

    user = identity_user(ANN)
    assert user.custom == {"persona": "builder"}
    assert user.photo_url == "https://img.example/ann.png"


def test_manager_by_email_links_an_existing_manager(browser):
    boss = UserFactory(username="boss", email="boss@example.com")

    browser.login(ANN, {"User.email": ANN, "manager": "boss@example.com"})

    assert identity_user(ANN).manager == boss


def test_manager_arriving_later_is_linked_when_they_first_log_in(browser, client):
    browser.login(ANN, {"User.email": ANN, "manager": "boss@example.com"})
    ann = identity_user(ANN)
    assert ann.manager is None
    assert ann.pending_manager_ref == "boss@example.com"
    client.logout()

    browser.login("boss@example.com", {"User.email": "boss@example.com"})

    ann.refresh_from_db()
    assert ann.manager == identity_user("boss@example.com")


def test_roles_from_a_multi_valued_attribute_are_synced_and_others_survive(browser, client):
    browser.login(ANN, {"User.email": ANN, "memberOf": ["Engineering", "Staff"]})
    ann = identity_user(ANN)
    scim_role, manual_role = RoleFactory(display_name="Payroll"), RoleFactory(display_name="Admins")
    RoleMembershipFactory(role=scim_role, user=ann, source=MembershipSource.SCIM)
    RoleMembershipFactory(role=manual_role, user=ann, source=MembershipSource.MANUAL)
    # The same role granted by SCIM too: the SAML removal must leave the SCIM row.
    RoleMembershipFactory(role=ann.roles.get(display_name="Staff"), user=ann, source="scim")
    client.logout()

    browser.login(ANN, {"User.email": ANN, "memberOf": ["Engineering", "Berlin"]})

    saml = MembershipSource.saml(SLUG)
    assert roles_of(ann) == {
        "Engineering": {saml},
        "Berlin": {saml},
        "Staff": {"scim"},
        "Payroll": {"scim"},
        "Admins": {"manual"},
    }


def test_roles_from_one_semicolon_joined_value(browser, client):
    browser.login(ANN, {"User.email": ANN, "memberOf": "Engineering;Staff; Berlin"})

    saml = MembershipSource.saml(SLUG)
    assert roles_of(identity_user(ANN)) == {
        "Engineering": {saml},
        "Staff": {saml},
        "Berlin": {saml},
    }


def test_no_roles_attribute_removes_the_roles_this_idp_granted(browser, client):
    browser.login(ANN, {"User.email": ANN, "memberOf": ["Engineering"]})
    client.logout()

    browser.login(ANN, {"User.email": ANN, "memberOf": []})

    assert roles_of(identity_user(ANN)) == {}


def test_deactivated_user_is_refused_and_jit_does_not_reactivate(browser, client):
    browser.login(ANN)
    ann = identity_user(ANN)
    client.logout()
    user_deactivate(user=ann, actor=Actor.system("tests"), reason="left")

    response = browser.login(ANN)

    assert_refused(response, client, "user_inactive", status=403)
    ann.refresh_from_db()
    assert ann.is_active is False
    assert User.objects.count() == 1


def test_deactivated_user_found_by_email_link_is_refused(browser, client):
    gone = UserFactory(username="ann", email=ANN, is_active=False)
    idp_update(SLUG, link_by_email=True)

    response = browser.login(ANN)

    assert_refused(response, client, "user_inactive", status=403)
    gone.refresh_from_db()
    assert gone.is_active is False


ENTRA = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"


def test_entra_claim_uris_map_through_the_default_attribute_map(browser):
    browser.login(
        ANN,
        {
            ENTRA + "emailaddress": ANN,
            ENTRA + "givenname": "Ann",
            ENTRA + "surname": "Lee",
            "http://schemas.microsoft.com/ws/2008/06/identity/claims/role": ["Readers", "Writers"],
        },
    )

    user = identity_user(ANN)
    assert (user.email, user.first_name, user.last_name) == (ANN, "Ann", "Lee")
    saml = MembershipSource.saml(SLUG)
    assert roles_of(user) == {"Readers": {saml}, "Writers": {saml}}


def test_import_attribute_map_overrides_some_keys_and_keeps_the_defaults(peer, client, tmp_path):
    from tests.sso.conftest import write_json

    mapping = write_json(
        tmp_path / "map.json", {"department": ["dept", "department"], "title": "jobTitle"}
    )
    idp_import(peer, SLUG, "--attribute-map", str(mapping))
    browser = Browser(client, peer)

    browser.login(
        ANN, {"User.email": ANN, "User.FirstName": "Ann", "dept": "R&D", "jobTitle": "Lead"}
    )

    user = identity_user(ANN)
    assert (user.first_name, user.department, user.title) == ("Ann", "R&D", "Lead")
