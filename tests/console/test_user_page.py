"""The user page: status first with Deactivate / Reactivate (a reason asked, through the
services), roles with their source, spaces and why, recent sign-ins; Django's
permission widgets folded away."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from personas.services import SpaceGrant, persona_evaluate, persona_upsert, space_upsert
from personas.services.spaces import space_member_add
from tests.factories import RoleFactory, RoleMembershipFactory, UserFactory, staff_with
from users.models import AuditEvent
from users.services import Actor, audit_record, user_deactivate, user_reactivate

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada(db):
    return UserFactory(
        username="alovelace",
        email="ada@example.com",
        first_name="Ada",
        last_name="Lovelace",
        department="Engineering",
    )


def page(client, user) -> str:
    response = client.get(f"/admin/users/user/{user.pk}/change/")
    assert response.status_code == 200
    return response.content.decode()


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_page_leads_with_status_and_a_deactivate_button(admin_client, ada):
    html = page(admin_client, ada)

    summary = html[html.index('id="user-summary"') : html.index('id="user-roles"')]
    assert 'id="user-status">Active<' in summary
    assert f'action="/admin/users/user/{ada.pk}/deactivate/"' in summary
    assert 'name="reason"' in summary and "required" in summary
    assert html.index('id="user-summary"') < html.index('id="user_form"')


def test_deactivate_button_goes_through_the_service_with_the_reason(admin_client, ada):
    response = admin_client.post(
        f"/admin/users/user/{ada.pk}/deactivate/", {"reason": "left the company"}
    )

    assert response.status_code == 302
    assert response["Location"] == f"/admin/users/user/{ada.pk}/change/"
    ada.refresh_from_db()
    assert (ada.is_active, ada.deactivated_by) == (False, "admin")
    event = AuditEvent.objects.get(action="user.deactivated", target_id=str(ada.pk))
    assert (event.actor_name, event.detail) == ("root", {"reason": "left the company"})
    summary = text(page(admin_client, ada))
    assert "Deactivated since" in summary
    assert "by Admin user root: “left the company”" in summary
    assert "(held: the identity provider cannot reactivate)" in summary


def test_the_admin_deactivation_holds_against_the_identity_provider(admin_client, ada):
    admin_client.post(f"/admin/users/user/{ada.pk}/deactivate/", {"reason": "security review"})

    user_reactivate(user=ada, actor=Actor.scim("okta"), reason="active: true")

    ada.refresh_from_db()
    assert not ada.is_active
    assert AuditEvent.objects.filter(action="user.reactivation_refused").count() == 1


def test_deactivate_without_a_reason_changes_nothing(admin_client, ada):
    response = admin_client.post(
        f"/admin/users/user/{ada.pk}/deactivate/", {"reason": "  "}, follow=True
    )

    ada.refresh_from_db()
    assert ada.is_active
    assert "Nothing changed: give a reason" in response.content.decode()
    assert not AuditEvent.objects.filter(action="user.deactivated").exists()


def test_reactivate_button_reactivates_with_the_reason(admin_client, ada):
    user_deactivate(user=ada, actor=Actor.scim("okta"), reason="deprovisioned")
    assert f'action="/admin/users/user/{ada.pk}/reactivate/"' in page(admin_client, ada)

    admin_client.post(f"/admin/users/user/{ada.pk}/reactivate/", {"reason": "back from leave"})

    ada.refresh_from_db()
    assert ada.is_active
    assert AuditEvent.objects.get(action="user.reactivated").detail == {"reason": "back from leave"}


def test_status_buttons_take_only_a_post_with_csrf_from_someone_who_may_change(ada):
    url = f"/admin/users/user/{ada.pk}/deactivate/"
    admin = UserFactory(is_staff=True, is_superuser=True)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(admin)
    assert strict.post(url, {"reason": "x"}).status_code == 403
    assert strict.get(url).status_code == 405
    viewer = Client()
    viewer.force_login(staff_with("users.view_user"))
    assert viewer.post(url, {"reason": "x"}).status_code == 403
    ada.refresh_from_db()
    assert ada.is_active


def test_roles_show_where_each_came_from(admin_client, ada):
    engineering, admins = (
        RoleFactory(display_name="Engineering"),
        RoleFactory(display_name="Admins"),
    )
    RoleMembershipFactory(role=engineering, user=ada, source="scim")
    RoleMembershipFactory(role=engineering, user=ada, source="manual")
    RoleMembershipFactory(role=admins, user=ada, source="saml:okta")

    html = page(admin_client, ada)

    roles = text(html[html.index('id="user-roles"') : html.index('id="user-spaces"')])
    assert "Admins SAML (okta) Engineering admin SCIM" in roles
    assert f'href="/admin/users/role/{engineering.pk}/change/"' in html


def test_spaces_show_which_persona_or_admin_put_the_person_there(admin_client, ada):
    actor = Actor.system("tests")
    space_upsert(slug="eng", name="Engineering space", actor=actor)
    handbook, _ = space_upsert(slug="handbook", name="Handbook", actor=actor)
    persona, _ = persona_upsert(
        slug="engineers",
        name="Engineers",
        rule={"attr": "department", "op": "eq", "value": "Engineering"},
        spaces=[SpaceGrant(space="eng", role="contributor")],
        actor=actor,
        schedule_evaluation=False,
    )
    persona_evaluate(persona=persona, actor=actor)
    space_member_add(space=handbook, user=ada, actor=actor)

    html = page(admin_client, ada)

    spaces = text(html[html.index('id="user-spaces"') : html.index('id="user-sign-ins"')])
    assert "Engineering space contributor persona Engineers (contributor)" in spaces
    assert "Handbook member added by an admin (member)" in spaces
    assert f'href="/admin/personas/persona/{persona.pk}/change/"' in html


def test_recent_sign_ins_are_listed_newest_first(admin_client, ada):
    audit_record(
        actor=Actor.idp("okta"),
        action="saml.login",
        target=ada,
        detail={"idp": "okta", "created": True},
    )
    audit_record(
        actor=Actor.idp("entra"),
        action="saml.login",
        target=ada,
        detail={"idp": "entra", "linked_by": "email"},
    )

    html = page(admin_client, ada)

    sign_ins = text(html[html.index('id="user-sign-ins"') :])
    assert sign_ins.index("entra linked by email") < sign_ins.index(
        "okta account created at this sign-in"
    )


def test_permission_widgets_are_folded_away_and_custom_fields_follow_the_profile(admin_client, ada):
    from tests.factories import CustomFieldFactory

    CustomFieldFactory(key="shirt", label="Shirt size")
    html = page(admin_client, ada)

    folded = html[html.index("Django permissions") - 400 : html.index("Django permissions")]
    assert "<details>" in folded and "collapse" in folded
    assert html.index("id_groups") > html.index("Django permissions")
    assert (
        html.index(">Profile<")
        < html.index(">Custom profile fields<")
        < html.index(">Organisation<")
    )


def test_user_page_queries_do_not_grow_with_roles_and_spaces(admin_client, ada):
    actor = Actor.system("tests")

    def add(n: int) -> None:
        RoleMembershipFactory(role=RoleFactory(), user=ada, source="scim")
        space, _ = space_upsert(slug=f"s{n}", name=f"S {n}", actor=actor)
        space_member_add(space=space, user=ada, actor=actor)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            page(admin_client, ada)
        return len(captured)

    add(0)
    queries()  # the first request also fills per-process caches (content types)
    few = queries()
    for n in range(1, 15):
        add(n)

    assert queries() == few
