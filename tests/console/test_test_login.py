"""Test login (dry run, issue 12 item 3): a real SP-initiated login, validated like any
other, whose answer is shown to the admin who started it and never applied. Performed
with the pysaml2 IdP against the real endpoints; the row counts prove nothing changed."""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from personas.models import SpaceMembership
from sso.models import SamlIdentity, SamlSession
from tests.sso.conftest import SLUG, Browser, identity_user
from tests.sso.idp_peer import IdpPeer, post_form
from users.models import AuditEvent, Role, RoleMembership, User
from users.services import Actor, user_deactivate

pytestmark = pytest.mark.django_db

WATCHED = (User, SamlIdentity, SamlSession, Session, Role, RoleMembership, SpaceMembership)


def _counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in WATCHED}


def _dry_run(client: Client, peer: IdpPeer, name_id: str, attributes=None, **options):
    started = client.post(f"/sso/{SLUG}/test-login/")
    assert started.status_code == 302, started.content[:500]
    request = peer.authn_request_read(started["Location"])
    xml = peer.response_xml(
        name_id=name_id,
        attributes=attributes if attributes is not None else {"User.email": name_id},
        in_response_to=request.id,
        **options,
    )
    return client.post(f"/sso/{SLUG}/acs/", post_form(xml, request.relay_state), follow=True)


@pytest.fixture
def admin(client, peer, admin_user) -> Client:
    client.force_login(admin_user)
    return client


def test_a_new_person_would_be_created_and_nothing_is(admin, peer, admin_user):
    before = _counts()

    response = _dry_run(
        admin,
        peer,
        "ada@example.com",
        {"User.email": "ada@example.com", "User.FirstName": "Ada", "memberOf": "Engineering"},
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "Would create the account <code>ada@example.com</code>" in html
    assert "<td><code>User.FirstName</code></td><td>Ada</td><td>first_name</td>" in html
    assert "Add: <code>Engineering</code>." in html
    assert _counts() == before
    assert admin.session["_auth_user_id"] == str(admin_user.pk)
    started, done = AuditEvent.objects.filter(action__startswith="saml.test_login").order_by("id")
    assert (started.action, started.actor_name) == ("saml.test_login_started", "root")
    assert (done.action, done.actor_name, done.target_id) == ("saml.test_login", "root", SLUG)
    assert done.detail["outcome"] == "create"
    assert not AuditEvent.objects.filter(action__in=["saml.login", "user.created"]).exists()


def test_a_known_person_shows_the_roles_it_would_add_and_remove(client, peer, admin_user):
    Browser(client, peer).login(
        "ada@example.com", {"User.email": "ada@example.com", "memberOf": "Old"}
    )
    ada = identity_user("ada@example.com")
    admin = Client()
    admin.force_login(admin_user)
    before = _counts()

    response = _dry_run(
        admin, peer, "ada@example.com", {"User.email": "ada@example.com", "memberOf": "New"}
    )

    html = response.content.decode()
    assert "Would sign in as <code>ada@example.com</code>" in html
    assert "Add: <code>New</code>." in html
    assert "Remove: <code>Old</code>." in html
    assert _counts() == before
    assert {m.role.display_name for m in ada.role_memberships.select_related("role")} == {"Old"}


def test_a_deactivated_person_shows_the_refusal_and_what_to_change(client, peer, admin_user):
    Browser(client, peer).login("ada@example.com")
    user_deactivate(
        user=identity_user("ada@example.com"), actor=Actor.system("tests"), reason="left"
    )
    admin = Client()
    admin.force_login(admin_user)
    before = _counts()

    html = _dry_run(admin, peer, "ada@example.com").content.decode()

    assert "Would be refused: <code>user_inactive</code>" in html
    assert "What to change: Reactivate the user in admin if intended." in html
    assert _counts() == before


def test_an_invalid_answer_shows_the_exact_reason_to_the_admin(admin, peer):
    before = _counts()

    response = _dry_run(admin, peer, "ada@example.com", audience="https://elsewhere.example/")

    html = response.content.decode()
    assert response.status_code == 400
    assert "Refused: <code>audience</code>" in html
    assert "elsewhere.example" in html
    assert "What to change: The IdP&#x27;s Audience / Entity ID" in html
    assert _counts() == before


def test_only_admins_may_start_a_test_login(client, peer):
    anonymous = client.post(f"/sso/{SLUG}/test-login/")
    staff = User.objects.create_user("helper", "pw-not-used-1", email="h@example.com")
    staff.is_staff = True
    staff.save()
    client.force_login(staff)
    helper = client.post(f"/sso/{SLUG}/test-login/")
    get = client.get(f"/sso/{SLUG}/test-login/")

    assert anonymous.status_code == 403
    assert helper.status_code == 403
    assert get.status_code == 405
    assert not AuditEvent.objects.filter(action="saml.test_login_started").exists()


def test_the_test_login_form_is_csrf_checked(peer, admin_user):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin_user)

    assert browser.post(f"/sso/{SLUG}/test-login/").status_code == 403


def test_a_real_login_after_a_test_login_is_applied(admin, peer):
    _dry_run(admin, peer, "ada@example.com")

    Browser(admin, peer).login("ada@example.com")

    assert identity_user("ada@example.com").username == "ada@example.com"
