"""Persona writes as small services: create, rule set, spaces set; each audited."""

import pytest

from axero_idp.errors import ValidationFailed
from personas.models import PendingEvaluation, PersonaSpace
from personas.services import (
    SpaceGrant,
    persona_create,
    persona_rule_set,
    persona_spaces_set,
    space_upsert,
)
from users.models import AuditEvent

pytestmark = pytest.mark.django_db

SALES = {"attr": "department", "op": "eq", "value": "Sales"}
RND = {"attr": "department", "op": "eq", "value": "R&D"}


@pytest.fixture
def spaces(actor):
    for slug in ("deals", "hq"):
        space_upsert(slug=slug, name=slug.title(), actor=actor)


def last_event(action):
    return AuditEvent.objects.filter(action=action).latest("id")


def test_create_writes_the_persona_its_links_and_one_event_and_queues_an_evaluation(spaces, actor):
    persona = persona_create(
        slug="sales", name="Sales", rule=SALES, spaces=[SpaceGrant("deals", "member")], actor=actor
    )
    assert list(PersonaSpace.objects.values_list("space__slug", "role")) == [("deals", "member")]
    assert last_event("persona.created").detail == {
        "name": "Sales",
        "rule": SALES,
        "spaces": [{"space": "deals", "role": "member"}],
    }
    assert PendingEvaluation.objects.filter(persona_id=persona.pk).count() == 1


def test_create_with_an_unknown_space_writes_nothing(spaces, actor):
    with pytest.raises(ValidationFailed, match='spaces\\[0\\].space: no space "nope"'):
        persona_create(
            slug="sales",
            name="Sales",
            rule=SALES,
            spaces=[SpaceGrant("nope", "member")],
            actor=actor,
        )
    assert not AuditEvent.objects.filter(action="persona.created").exists()


def test_rule_set_records_before_and_after_and_a_no_change_is_silent(spaces, actor):
    persona = persona_create(slug="sales", name="Sales", rule=SALES, actor=actor)
    assert persona_rule_set(persona=persona, name="Sales", rule=SALES, actor=actor) is False
    assert not AuditEvent.objects.filter(action="persona.updated").exists()
    assert persona_rule_set(persona=persona, name="R&D", rule=RND, actor=actor) is True
    persona.refresh_from_db()
    assert (persona.name, persona.rule) == ("R&D", RND)
    assert last_event("persona.updated").detail == {"name": ["Sales", "R&D"], "rule": [SALES, RND]}


def test_rule_set_refuses_an_invalid_rule_and_keeps_the_old_one(spaces, actor):
    persona = persona_create(slug="sales", name="Sales", rule=SALES, actor=actor)
    with pytest.raises(ValidationFailed):
        persona_rule_set(persona=persona, name="Sales", rule={"attr": "nope"}, actor=actor)
    persona.refresh_from_db()
    assert persona.rule == SALES


def test_spaces_set_records_before_and_after(spaces, actor):
    persona = persona_create(
        slug="sales", name="Sales", rule=SALES, spaces=[SpaceGrant("deals", "member")], actor=actor
    )
    after = [SpaceGrant("deals", "moderator"), SpaceGrant("hq", "member")]
    assert persona_spaces_set(persona=persona, spaces=after, actor=actor) is True
    assert persona_spaces_set(persona=persona, spaces=after, actor=actor) is False
    assert sorted(PersonaSpace.objects.values_list("space__slug", "role")) == [
        ("deals", "moderator"),
        ("hq", "member"),
    ]
    assert AuditEvent.objects.filter(action="persona.spaces_changed").count() == 1
    assert last_event("persona.spaces_changed").detail == {
        "spaces": [
            [{"space": "deals", "role": "member"}],
            [{"space": "deals", "role": "moderator"}, {"space": "hq", "role": "member"}],
        ]
    }
