"""Admin: pages render; saves go through the services with the same rule errors."""

import json

import pytest

from personas.models import PendingEvaluation, Persona, PersonaSpace, Space, SpaceMembership
from personas.services import persona_evaluate
from tests.factories import SpaceFactory, UserFactory
from tests.personas.conftest import members, reasons
from users.models import AuditEvent
from users.services import Actor

pytestmark = pytest.mark.django_db

RULE = {"attr": "department", "op": "eq", "value": "Sales"}


@pytest.fixture
def persona(define, evaluate):
    UserFactory(username="ann", department="Sales")
    persona = define("sales", RULE, spaces=("deals",))
    evaluate(persona)
    return persona


def persona_form(**overrides):
    data = {
        "slug": "sales",
        "name": "Sales",
        "rule": json.dumps(RULE),
        "spaces_json": json.dumps([{"space": "deals", "role": "contributor"}]),
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    "url",
    [
        "/admin/personas/space/",
        "/admin/personas/space/add/",
        "/admin/personas/persona/",
        "/admin/personas/persona/add/",
        "/admin/personas/spacemembership/",
        "/admin/personas/spacemembership/add/",
    ],
)
def test_admin_pages_render(admin_client, persona, url):
    assert admin_client.get(url).status_code == 200


def test_space_page_links_to_its_members_with_reasons(admin_client, persona):
    space = Space.objects.get(slug="deals")
    page = admin_client.get(f"/admin/personas/space/{space.pk}/change/")
    assert b"1 member(s): all of them, searchable, with reasons" in page.content
    assert b"<tr><td>ann</td><td>member</td><td>persona sales (member)</td></tr>" in page.content
    members_page = admin_client.get(f"/admin/personas/spacemembership/?space__id__exact={space.pk}")
    assert b"ann" in members_page.content and b"Sales (sales)" in members_page.content


def test_persona_page_shows_matching_count_and_current_spaces(admin_client, persona):
    page = admin_client.get(f"/admin/personas/persona/{persona.pk}/change/")
    assert page.status_code == 200
    assert page.context["adminform"].form.initial["spaces_json"] == [
        {"space": "deals", "role": "member"}
    ]
    changelist = admin_client.get("/admin/personas/persona/")
    assert changelist.context["cl"].result_list[0].match_count == 1


def test_persona_rule_errors_are_shown_with_their_path(admin_client, persona):
    bad = {"all": [RULE, {"attr": "title", "op": "foo", "value": "x"}]}
    response = admin_client.post(
        f"/admin/personas/persona/{persona.pk}/change/", persona_form(rule=json.dumps(bad))
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "rule": ['rule.all[1].op: unknown operator "foo"']
    }
    assert Persona.objects.get(pk=persona.pk).rule == RULE


def test_persona_spaces_errors_are_shown(admin_client, persona):
    response = admin_client.post(
        "/admin/personas/persona/add/",
        persona_form(slug="other", spaces_json=json.dumps([{"space": "nowhere"}])),
    )
    assert response.context["adminform"].form.errors == {
        "spaces_json": ['spaces[0].space: no space "nowhere"']
    }


def test_persona_save_goes_through_the_service_and_queues_evaluation(admin_client, persona):
    response = admin_client.post(f"/admin/personas/persona/{persona.pk}/change/", persona_form())
    assert response.status_code == 302
    assert list(PersonaSpace.objects.values_list("space__slug", "role")) == [
        ("deals", "contributor")
    ]
    assert list(PendingEvaluation.objects.values_list("persona_id", flat=True)) == [persona.pk]
    event = AuditEvent.objects.filter(action="persona.spaces_changed").get()
    assert (event.actor_kind, event.actor_name) == ("admin", "root")


def test_persona_add_creates_it(admin_client, persona):
    response = admin_client.post(
        "/admin/personas/persona/add/", persona_form(slug="more", name="More")
    )
    assert response.status_code == 302
    assert Persona.objects.get(slug="more").name == "More"


def test_evaluate_now_action_reports_counts(admin_client, persona):
    UserFactory(username="ben", department="Sales")
    response = admin_client.post(
        "/admin/personas/persona/",
        {"action": "evaluate_now", "_selected_action": [persona.pk]},
        follow=True,
    )
    assert [str(m) for m in response.context["messages"]] == ["sales: 1 added, 0 removed"]
    assert members("deals") == {"ann", "ben"}


def test_manual_membership_is_added_and_removed_through_services(admin_client, persona):
    space = Space.objects.get(slug="deals")
    ben = UserFactory(username="ben")
    response = admin_client.post(
        "/admin/personas/spacemembership/add/",
        {"space": space.pk, "user": ben.pk, "role": "moderator"},
    )
    assert response.status_code == 302
    assert reasons("deals") == {("ann", "persona", "sales"), ("ben", "manual", None)}
    manual = SpaceMembership.objects.get(user=ben)
    assert (
        admin_client.post(
            f"/admin/personas/spacemembership/{manual.pk}/delete/", {"post": "yes"}
        ).status_code
        == 302
    )
    assert members("deals") == {"ann"}
    assert (
        AuditEvent.objects.filter(action="space.member_removed", target_id=str(ben.pk)).count() == 1
    )


def test_persona_memberships_cannot_be_deleted_by_hand(admin_client, persona):
    row = SpaceMembership.objects.get()
    assert admin_client.get(f"/admin/personas/spacemembership/{row.pk}/delete/").status_code == 403


def test_space_add_goes_through_the_service(admin_client, db):
    response = admin_client.post(
        "/admin/personas/space/add/", {"slug": "town-hall", "name": "Town hall"}
    )
    assert response.status_code == 302
    assert (
        AuditEvent.objects.filter(
            action="space.created", target_id=str(Space.objects.get(slug="town-hall").pk)
        ).count()
        == 1
    )


def test_space_delete_goes_through_the_service(admin_client, db):
    space = SpaceFactory(slug="old-space")
    response = admin_client.post(f"/admin/personas/space/{space.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Space.objects.filter(slug="old-space").exists()
    event = AuditEvent.objects.get(action="space.deleted")
    assert event.detail == {"slug": "old-space", "name": "Old Space", "members": 0}


@pytest.mark.parametrize("model", ["persona", "space"])
def test_a_persona_or_space_with_members_can_be_deleted_in_admin(
    admin_client, persona, model, django_assert_max_num_queries
):
    obj = persona if model == "persona" else Space.objects.get(slug="deals")
    UserFactory.create_batch(30, department="Sales")
    persona_evaluate(persona=persona, actor=Actor.system("t"))
    url = f"/admin/personas/{model}/{obj.pk}/delete/"
    # The confirmation page summarises the memberships (there may be 50,000), and the
    # persona-granted rows, which nobody may delete one by one, do not block it.
    with django_assert_max_num_queries(20):
        page = admin_client.get(url)
    assert page.status_code == 200
    assert "permission to delete" not in page.content.decode()
    assert "Space memberships: 31" in page.content.decode()
    response = admin_client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert SpaceMembership.objects.count() == 0
    assert AuditEvent.objects.filter(action="space.member_removed").count() == 31
