"""Every change made through the admin is in the audit trail, once per save, with each
changed field before and after, and never a secret."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group

from events.models import EventsToken
from scim.models import ScimToken
from sso.keys import key_pair_generate, signing_key_pair
from sso.models import IdentityProvider, SPKey
from tests.factories import CustomFieldFactory, UserFactory
from users.admin.changes import REDACTED, admin_changes
from users.models import AuditEvent

pytestmark = pytest.mark.django_db


def form_data(page, **changes):
    """What the browser would post back from this admin change form, plus changes."""
    form = page.context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value is True:
            value = "on"
        if value is not None and value is not False:
            data[name] = value
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None and v is not False}


def _certificate() -> str:
    pem, _key = key_pair_generate("idp.example.com")
    return "".join(pem.splitlines()[1:-1])


@pytest.fixture
def idp():
    return IdentityProvider.objects.create(
        slug="acme",
        entity_id="https://idp.example.com/md",
        sso_url="https://idp.example.com/sso",
        signing_certificates=[_certificate()],
    )


def _events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def test_turning_on_link_by_email_is_one_event_with_before_and_after(admin_client, idp):
    url = f"/admin/sso/identityprovider/{idp.pk}/change/"
    page = admin_client.get(url)

    response = admin_client.post(url, form_data(page, link_by_email="on", clock_skew_seconds=60))

    assert response.status_code == 302
    [event] = _events("sso.idp_changed")
    assert (event.actor_kind, event.actor_name) == ("admin", "root")
    assert (event.target_type, event.target_id) == ("identityprovider", str(idp.pk))
    assert event.detail == {
        "changes": {"link_by_email": [False, True], "clock_skew_seconds": [120, 60]}
    }


def test_saving_an_identity_provider_unchanged_records_nothing(admin_client, idp):
    url = f"/admin/sso/identityprovider/{idp.pk}/change/"

    assert admin_client.post(url, form_data(admin_client.get(url))).status_code == 302

    assert _events("sso.idp_changed") == []


def test_new_certificates_are_recorded_as_fingerprints_not_bodies(admin_client, idp):
    url = f"/admin/sso/identityprovider/{idp.pk}/change/"
    old, new = idp.signing_certificates[0], _certificate()
    page = admin_client.get(url)

    admin_client.post(url, form_data(page, signing_certificates=json.dumps([old, new])))

    [event] = _events("sso.idp_changed")
    before, after = event.detail["changes"]["signing_certificates"]
    assert len(before) == 1 and len(after) == 2 and before[0] == after[0]
    assert all(len(fingerprint) == 16 for fingerprint in after)
    assert new not in json.dumps(event.detail)


def test_an_identity_provider_created_in_admin_is_audited_with_its_settings(admin_client):
    page = admin_client.get("/admin/sso/identityprovider/add/")
    data = form_data(
        page,
        slug="okta",
        entity_id="https://okta.example.com",
        sso_url="https://okta.example.com/sso",
        signing_certificates=json.dumps([_certificate()]),
    )

    response = admin_client.post("/admin/sso/identityprovider/add/", data)

    assert response.status_code == 302
    [event] = _events("sso.idp_created")
    changes = event.detail["changes"]
    assert changes["slug"] == [None, "okta"]
    assert changes["link_by_email"] == [None, False]
    assert changes["entity_id"] == [None, "https://okta.example.com"]


def test_deactivating_an_identity_provider_records_the_change_and_the_ended_sessions(
    admin_client, idp
):
    url = f"/admin/sso/identityprovider/{idp.pk}/change/"
    data = form_data(admin_client.get(url))
    data.pop("is_active")

    admin_client.post(url, data)

    [changed] = _events("sso.idp_changed")
    assert changed.detail == {"changes": {"is_active": [True, False]}}
    assert len(_events("sso.idp_deactivated")) == 1


def test_retiring_an_sp_key_is_audited_and_its_private_key_never_is(admin_client):
    signing_key_pair()
    key = SPKey.objects.get()
    url = f"/admin/sso/spkey/{key.pk}/change/"

    admin_client.post(url, {})  # is_active unticked

    [event] = _events("sso.sp_key_changed")
    assert event.detail == {"name": key.name, "changes": {"is_active": [True, False]}}
    assert key.private_key_encrypted not in json.dumps(event.detail)


def test_secret_fields_are_named_but_never_written():
    key = SPKey(name="a", certificate_pem="c", private_key_encrypted="old-secret")
    changed = SPKey(name="a", certificate_pem="c", private_key_encrypted="new-secret")

    changes = admin_changes(key, changed, ["private_key_encrypted", "name"])

    assert changes == {"private_key_encrypted": [REDACTED, REDACTED]}


def test_scim_token_created_and_revoked_in_admin_are_audited_without_the_secret(admin_client):
    response = admin_client.post("/admin/scim/scimtoken/add/", {"name": "okta-push"})
    raw = response.context["raw"]
    token = ScimToken.objects.get(name="okta-push")

    admin_client.post(
        "/admin/scim/scimtoken/", {"action": "revoke", "_selected_action": [token.pk]}
    )

    created, revoked = _events("scim_token.created"), _events("scim_token.revoked")
    assert [e.detail["name"] for e in created + revoked] == ["okta-push", "okta-push"]
    assert {e.actor_name for e in created + revoked} == {"root"}
    trail = json.dumps([e.detail for e in AuditEvent.objects.all()])
    assert raw not in trail and token.token_hash not in trail


def test_events_token_created_and_revoked_in_admin_are_audited_without_the_secret(admin_client):
    response = admin_client.post("/admin/events/eventstoken/add/", {"name": "intranet"})
    raw = response.context["raw"]
    token = EventsToken.objects.get(name="intranet")

    admin_client.post(
        "/admin/events/eventstoken/", {"action": "revoke", "_selected_action": [token.pk]}
    )

    assert len(_events("events_token.created")) == len(_events("events_token.revoked")) == 1
    trail = json.dumps([e.detail for e in AuditEvent.objects.all()])
    assert raw not in trail and token.token_hash not in trail


def test_custom_field_relabelled_in_admin_is_audited_with_before_and_after(admin_client):
    field = CustomFieldFactory(key="shirt_size", label="Shirt size")

    admin_client.post(
        f"/admin/users/customfield/{field.pk}/change/", {"label": "T-shirt size", "public": "on"}
    )

    [event] = _events("custom_field.changed")
    assert event.detail == {"label": ["Shirt size", "T-shirt size"], "public": [False, True]}


def _user_post(admin_client, user, **changes):
    url = f"/admin/users/user/{user.pk}/change/"
    data = form_data(admin_client.get(url), **changes)
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    return response


def test_granting_staff_in_admin_is_audited_with_before_and_after(admin_client):
    user = UserFactory(first_name="Ada")

    _user_post(admin_client, user, is_staff="on")

    [event] = _events("user.access_changed")
    assert event.detail == {"changes": {"is_staff": [False, True]}}
    assert _events("user.updated") == []


def test_django_groups_and_permissions_changed_in_admin_are_audited(admin_client):
    user = UserFactory()
    helpdesk = Group.objects.create(name="helpdesk")
    from django.contrib.auth.models import Permission

    view_users = Permission.objects.get(content_type__app_label="users", codename="view_user")

    _user_post(admin_client, user, groups=[helpdesk.pk], user_permissions=[view_users.pk])

    [event] = _events("user.permissions_changed")
    assert event.detail == {
        "changes": {"groups": [[], ["helpdesk"]], "user_permissions": [[], ["users.view_user"]]}
    }
    _user_post(admin_client, user)  # unchanged: nothing more
    assert len(_events("user.permissions_changed")) == 1


def test_profile_edit_in_admin_is_one_event_with_before_and_after(admin_client):
    user = UserFactory(first_name="Ada", title="")

    _user_post(admin_client, user, first_name="Augusta", title="Analyst")

    [event] = _events("user.updated")
    assert event.detail["changes"] == {"first_name": ["Ada", "Augusta"], "title": ["", "Analyst"]}
