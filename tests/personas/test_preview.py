"""The persona rule preview: who would join and who would leave, read-only, from the
same compiler as the evaluation, in a fixed number of queries."""

from __future__ import annotations

import json

import pytest
from django.apps import apps

from personas.models import Persona
from personas.selectors_preview import persona_rule_preview
from personas.services import SpaceGrant, persona_upsert
from tests.factories import RoleFactory, UserFactory
from tests.personas.conftest import TODAY, members
from users.models import RoleMembership
from users.selectors import custom_fields_by_key

pytestmark = pytest.mark.django_db

SALES = {"attr": "department", "op": "eq", "value": "Sales"}
SUPPORT = {"attr": "department", "op": "eq", "value": "Support"}
SPACES = json.dumps([{"space": "space", "role": "member"}])


@pytest.fixture
def sales(define, evaluate):
    UserFactory(username="ann", first_name="Ann", last_name="Abel", department="Sales")
    UserFactory(username="bob", first_name="Bob", last_name="Berg", department="sales")
    UserFactory(username="cat", first_name="Cat", last_name="Cole", department="Support")
    UserFactory(
        username="dan", first_name="Dan", last_name="Dorn", department="Support", is_active=False
    )
    persona = define("sales", SALES)
    evaluate(persona)
    assert members() == {"ann", "bob"}
    return persona


def _names(group) -> list[str]:
    return [person.name for person in group.first]


def test_preview_names_who_would_join_and_who_would_leave(sales):
    preview = persona_rule_preview(rule=SUPPORT, persona_id=sales.pk, today=TODAY)
    # dan is deactivated: like the evaluation, the preview leaves him out.
    assert (preview.joining.count, _names(preview.joining)) == (1, ["Cat Cole"])
    assert (preview.leaving.count, _names(preview.leaving)) == (2, ["Ann Abel", "Bob Berg"])
    assert preview.leaving.first[0].email == "ann"


def test_preview_of_the_saved_rule_changes_nobody(sales):
    preview = persona_rule_preview(rule=SALES, persona_id=sales.pk, today=TODAY)
    assert (preview.joining.count, preview.leaving.count) == (0, 0)


def test_preview_of_a_new_persona_lists_every_match(sales):
    rule = {"any": [SALES, SUPPORT]}
    preview = persona_rule_preview(rule=rule, persona_id=None, today=TODAY)
    assert (preview.joining.count, _names(preview.joining)) == (
        3,
        ["Ann Abel", "Bob Berg", "Cat Cole"],
    )
    assert preview.leaving.count == 0


def test_preview_agrees_with_the_evaluation_that_follows(sales, evaluate, actor):
    engineers = RoleFactory(display_name="Engineering")
    for username in ("bob", "cat"):
        user = UserFactory._meta.model.objects.get(username=username)
        RoleMembership.objects.create(role=engineers, user=user, source="scim")
    rule = {"all": [{"attr": "roles", "op": "contains", "value": "engineering"}, {"not": SUPPORT}]}
    preview = persona_rule_preview(rule=rule, persona_id=sales.pk, today=TODAY)
    before = members()
    persona_upsert(
        slug="sales", name="Sales", rule=rule, spaces=[SpaceGrant(space="space", role="member")],
        actor=actor, schedule_evaluation=False,
    )  # fmt: skip
    result = evaluate(Persona.objects.get(pk=sales.pk))
    after = members()
    assert (preview.joining.count, preview.leaving.count) == (result.added, result.removed)
    assert {p.email for p in preview.joining.first} == after - before
    assert {p.email for p in preview.leaving.first} == before - after == {"ann"}


def test_preview_shows_the_first_names_and_counts_the_rest(define, evaluate):
    for n in range(25):
        UserFactory(username=f"u{n:02}", first_name="", last_name=f"N{n:02}", department="Ops")
    persona = define("ops", {"attr": "department", "op": "eq", "value": "Ops"})
    preview = persona_rule_preview(rule=persona.rule, persona_id=persona.pk, today=TODAY)
    assert preview.joining.count == 25 and preview.joining.more == 5
    assert _names(preview.joining) == [f"N{n:02}" for n in range(20)]


def test_preview_takes_four_queries_whatever_the_number_of_people(sales, django_assert_num_queries):
    fields = custom_fields_by_key()
    with django_assert_num_queries(4):
        persona_rule_preview(rule=SUPPORT, persona_id=sales.pk, custom_fields=fields, today=TODAY)
    for n in range(30):
        UserFactory(username=f"more{n}", department="Support")
    with django_assert_num_queries(4):
        preview = persona_rule_preview(
            rule=SUPPORT, persona_id=sales.pk, custom_fields=fields, today=TODAY
        )
    assert preview.joining.count == 31


def database_snapshot() -> dict[str, object]:
    """Every table's row count, and the persona tables' rows in full."""
    snapshot: dict[str, object] = {
        model._meta.label: model.objects.count() for model in apps.get_models()
    }
    for label in ("personas.Persona", "personas.PersonaSpace", "personas.SpaceMembership"):
        model = apps.get_model(label)
        snapshot[f"{label} rows"] = sorted(map(str, model.objects.values()))
    return snapshot


def test_preview_in_the_admin_writes_nothing(admin_client, sales):
    before = database_snapshot()
    response = admin_client.post(
        f"/admin/personas/persona/{sales.pk}/change/",
        {
            "slug": "sales",
            "name": "Renamed",
            "rule": json.dumps(SUPPORT),
            "spaces_json": json.dumps([{"space": "space", "role": "moderator"}]),
            "_preview": "1",
        },
    )
    assert response.status_code == 200
    preview = response.context["rule_preview"]
    assert (preview.joining.count, preview.leaving.count) == (1, 2)
    assert database_snapshot() == before
    page = response.content.decode()
    assert 'id="preview-joining"' in page and "Cat Cole" in page
    # The edited values stay in the form, unsaved.
    assert response.context["adminform"].form["name"].value() == "Renamed"


def test_preview_of_an_invalid_rule_shows_the_error_at_the_field(admin_client, sales):
    bad = {"all": [SALES, {"attr": "title", "op": "foo", "value": "x"}]}
    response = admin_client.post(
        f"/admin/personas/persona/{sales.pk}/change/",
        {
            "slug": "sales",
            "name": "Sales",
            "rule": json.dumps(bad),
            "spaces_json": SPACES,
            "_preview": "1",
        },
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "rule": ['rule.all[1].op: unknown operator "foo"']
    }
    assert "rule_preview" not in response.context


def test_preview_on_the_add_page_creates_nothing(admin_client, sales):
    response = admin_client.post(
        "/admin/personas/persona/add/",
        {
            "slug": "support",
            "name": "Support",
            "rule": json.dumps(SUPPORT),
            "spaces_json": SPACES,
            "_preview": "1",
        },
    )
    assert response.status_code == 200
    assert _names(response.context["rule_preview"].joining) == ["Cat Cole"]
    assert not Persona.objects.filter(slug="support").exists()


def test_editor_shows_the_rule_language_help(admin_client, sales):
    RoleFactory(display_name="Engineering")
    page = admin_client.get(f"/admin/personas/persona/{sales.pk}/change/").content.decode()
    assert 'id="rule-help"' in page and "<code>within_days</code>" in page
    assert "<code>hire_date</code>" in page and "<code>Engineering</code>" in page
    assert 'name="_preview"' in page
    assert "style=" not in page.split('id="rule-help"')[1].split("</aside>")[0]


def test_preview_needs_the_change_permission(client, django_user_model, sales):
    viewer = django_user_model.objects.create_user("viewer", "pw-viewer-123", is_staff=True)
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(Permission.objects.get(codename="view_persona"))
    client.force_login(viewer)
    response = client.post(
        f"/admin/personas/persona/{sales.pk}/change/",
        {
            "slug": "sales",
            "name": "Sales",
            "rule": json.dumps(SUPPORT),
            "spaces_json": SPACES,
            "_preview": "1",
        },
    )
    assert response.status_code == 403


def test_preview_of_a_persona_that_is_gone_is_not_found(admin_client, sales):
    response = admin_client.post(
        "/admin/personas/persona/999999/change/",
        {
            "slug": "x",
            "name": "X",
            "rule": json.dumps(SUPPORT),
            "spaces_json": SPACES,
            "_preview": "1",
        },
    )
    assert response.status_code == 404
