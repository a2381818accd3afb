"""Account takeover through link-by-email (issue 8, finding 3), performed against the
real ACS with the pysaml2 IdP: an IdP with `link_by_email` on, or whoever can set the
email attribute there, must never get a session as a superuser, a staff member, a
local account or another IdP's user. A normal provisioned account still links."""

from __future__ import annotations

import pytest

from sso.models import SamlIdentity
from tests.factories import UserFactory
from tests.sso.conftest import SLUG, Browser, assert_refused, identity_user, idp_import, idp_update
from tests.sso.idp_peer import IdpPeer
from users.models import Source, User

pytestmark = pytest.mark.django_db(transaction=False)

VICTIM = "boss@example.com"
# The attacker's own, unrelated NameID at the IdP; only the email attribute is forged.
ATTACKER_NAME_ID = "00u-attacker"


def _login_claiming(browser: Browser, email: str):
    return browser.login(ATTACKER_NAME_ID, {"User.email": email})


def _assert_not_taken_over(response, client, victim: User) -> None:
    event = assert_refused(response, client, "email_link_refused", status=403)
    assert str(victim.pk) in event.detail["message"]
    assert not SamlIdentity.objects.filter(user=victim).exists()
    assert not SamlIdentity.objects.filter(name_id=ATTACKER_NAME_ID).exists()
    assert client.session.get("_auth_user_id") != str(victim.pk)


@pytest.fixture
def linking(peer):
    idp_update(SLUG, link_by_email=True)


def test_a_superusers_email_does_not_link_to_the_superuser(browser, client, linking):
    # Created like createsuperuser does: a local account.
    admin = User.objects.create_superuser("admin", "long-password-1", email=VICTIM)

    response = _login_claiming(browser, VICTIM)

    _assert_not_taken_over(response, client, admin)


def test_a_provisioned_superuser_is_not_linked_either(browser, client, linking):
    admin = UserFactory(email=VICTIM, source=Source.SCIM, is_superuser=True)

    _assert_not_taken_over(_login_claiming(browser, VICTIM), client, admin)


def test_a_staff_members_email_does_not_link_to_them(browser, client, linking):
    staff = UserFactory(email=VICTIM, source=Source.SCIM, is_staff=True)

    _assert_not_taken_over(_login_claiming(browser, VICTIM), client, staff)


def test_a_local_accounts_email_does_not_link_to_it(browser, client, linking):
    # Added in admin (or by ensure_admin): no identity provider owns it.
    local = UserFactory(email=VICTIM, source=Source.ADMIN)

    _assert_not_taken_over(_login_claiming(browser, VICTIM), client, local)


def test_another_idps_user_is_not_linked(browser, client, linking, peer_keys, tmp_path):
    other = IdpPeer(
        tmp_path / "other",
        entity_id="https://okta.example.test/app/exk1",
        base_url="https://okta.example.test/app",
        key=peer_keys["other-idp"],
    )
    idp_import(other, "okta")
    other.trust_sp(client.get("/sso/okta/metadata/").content)
    Browser(client, other, slug="okta").login(VICTIM, {"User.email": VICTIM})
    okta_user = identity_user(VICTIM, "okta")
    client.logout()

    response = _login_claiming(browser, VICTIM)

    assert_refused(response, client, "email_link_refused", status=403)
    assert list(
        SamlIdentity.objects.filter(user=okta_user).values_list("idp__slug", flat=True)
    ) == ["okta"]
    assert not SamlIdentity.objects.filter(name_id=ATTACKER_NAME_ID).exists()


def test_a_scim_provisioned_employee_still_links(browser, linking):
    employee = UserFactory(email=VICTIM, source=Source.SCIM)

    _login_claiming(browser, VICTIM)

    assert browser.logged_in_user_id() == str(employee.pk)
    assert identity_user(ATTACKER_NAME_ID) == employee


def test_the_employee_account_links_when_an_older_admin_account_shares_its_email(browser, linking):
    # One person, two accounts: the local admin account (older) and their employee one.
    admin = User.objects.create_superuser("admin", "long-password-1", email=VICTIM)
    employee = UserFactory(email=VICTIM.upper(), source=Source.SCIM)

    _login_claiming(browser, VICTIM)

    assert browser.logged_in_user_id() == str(employee.pk)
    assert not SamlIdentity.objects.filter(user=admin).exists()
