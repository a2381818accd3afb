"""Nothing silently dropped (issue 10, item 3): a SCIM or SAML attribute that maps to
no field still succeeds, and the request log, the audit trail and admin's "received but
not mapped" list say what was ignored, per connection."""

from __future__ import annotations

import io

import pytest
from django.core.cache import cache
from django.core.management import call_command

from scim.models import ScimRequestLog
from tests.scim.conftest import ScimClient
from tests.sso.conftest import SLUG
from users.models import AuditEvent, CustomField, UnmappedAttribute, User

pytestmark = pytest.mark.django_db(transaction=False)

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
AXERO = "urn:ietf:params:scim:schemas:extension:axero:2.0:User"


def _token(*idp: str) -> ScimClient:
    out = io.StringIO()
    args = ("--idp", idp[0]) if idp else ()
    call_command("scim_token", "create", "--name", f"t-{len(idp)}", *args, stdout=out)
    return ScimClient(out.getvalue().strip().splitlines()[-1])


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()


def _post(scim: ScimClient, user_name: str) -> dict:
    response = scim.post(
        "/Users",
        {
            "schemas": [CORE, AXERO],
            "userName": user_name,
            "phoneNumbers": [{"value": "+1 555 0100", "type": "work"}],
            AXERO: {"persona": "engineer"},
        },
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_an_undefined_custom_field_is_accepted_and_reported_everywhere(peer):
    created = _post(_token(SLUG), "ada@example.com")

    persona = f"{AXERO}:persona"
    log = ScimRequestLog.objects.get(method="POST")
    assert log.ignored_attributes == f"phoneNumbers, {persona}"
    audit = AuditEvent.objects.get(action="user.created", target_id=created["id"])
    assert audit.detail["ignored"] == ["phoneNumbers", persona]
    rows = UnmappedAttribute.objects.filter(protocol="scim").order_by("name")
    assert [(r.connection.slug, r.name) for r in rows] == [(SLUG, "phoneNumbers"), (SLUG, persona)]


def test_once_defined_the_field_receives_the_value_and_nothing_is_ignored(peer, admin_client):
    scim = _token(SLUG)
    _post(scim, "ada@example.com")
    row = UnmappedAttribute.objects.get(name=f"{AXERO}:persona")

    response = admin_client.post(
        "/admin/users/unmappedattribute/",
        {"action": "define_text_fields", "_selected_action": [row.pk]},
    )

    assert response.status_code == 302
    assert CustomField.objects.filter(key="persona", type="string").exists()
    assert not UnmappedAttribute.objects.filter(pk=row.pk).exists()
    created = _post(scim, "grace@example.com")
    assert User.objects.get(pk=created["id"]).custom == {"persona": "engineer"}
    assert ScimRequestLog.objects.order_by("-id")[0].ignored_attributes == "phoneNumbers"


def test_an_unbound_tokens_unmapped_attributes_are_listed_without_a_connection(db):
    _post(_token(), "ada@example.com")

    assert set(
        UnmappedAttribute.objects.filter(connection=None).values_list("name", flat=True)
    ) == {"phoneNumbers", f"{AXERO}:persona"}


def test_a_put_reports_what_it_ignored_in_the_request_log_and_the_update_audit(peer):
    scim = _token(SLUG)
    created = _post(scim, "ada@example.com")

    response = scim.put(
        f"/Users/{created['id']}",
        {"schemas": [CORE], "userName": "ada@example.com", "title": "CTO", "locale": "en-GB"},
    )

    assert response.status_code == 200, response.content
    assert ScimRequestLog.objects.order_by("-id")[0].ignored_attributes == "locale"
    update = AuditEvent.objects.filter(action="user.updated").latest("id")
    assert update.detail["ignored"] == ["locale"]


def test_the_admin_list_says_how_to_map_each_attribute(peer, admin_client):
    _post(_token(SLUG), "ada@example.com")

    page = admin_client.get("/admin/users/unmappedattribute/").content.decode()

    assert "custom_field add persona --type string" in page
    assert "Not kept by the directory" in page  # phoneNumbers


def test_saml_attributes_that_reach_no_field_are_listed_for_the_connection(browser):
    browser.login(
        "ada@example.com",
        {"User.email": "ada@example.com", "User.Phone": "+1 555 0100", "persona": "x"},
    )

    rows = UnmappedAttribute.objects.filter(protocol="saml")
    assert {(r.connection.slug, r.name) for r in rows} == {
        (SLUG, "User.Phone"),
        (SLUG, "persona"),  # the default map reads it as custom.persona: not defined
    }
    login = AuditEvent.objects.filter(action="saml.login").latest("id")
    assert "custom.persona" in login.detail["ignored_attributes"]


def test_repeated_pushes_write_the_registry_once_per_window(peer):
    scim = _token(SLUG)
    _post(scim, "ada@example.com")
    first = UnmappedAttribute.objects.get(name="phoneNumbers").last_seen

    _post(scim, "grace@example.com")

    assert UnmappedAttribute.objects.get(name="phoneNumbers").last_seen == first
