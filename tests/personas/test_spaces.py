"""Spaces and manual memberships through the services."""

import re

import pytest

from axero_idp.errors import ValidationFailed
from personas.models import SpaceMembership
from personas.services import space_member_add, space_member_remove, space_upsert
from tests.factories import SpaceFactory, UserFactory
from users.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_space_upsert_creates_renames_and_repeats_quietly(actor):
    assert space_upsert(slug="hq", name="HQ", actor=actor)[1] == "created"
    assert space_upsert(slug="hq", name="HQ", actor=actor)[1] == "unchanged"
    assert space_upsert(slug="hq", name="Head office", actor=actor)[1] == "updated"
    assert list(AuditEvent.objects.order_by("id").values_list("action", "detail")) == [
        ("space.created", {"name": "HQ"}),
        ("space.renamed", {"name": ["HQ", "Head office"]}),
    ]


@pytest.mark.parametrize(
    ("slug", "name", "message"),
    [
        ("HQ", "x", "slug: expected a slug (lower-case letters, digits, - and _; at most 64)"),
        ("hq", " ", "name: required"),
        ("hq", "x" * 201, "name: longer than 200 characters"),
    ],
)
def test_space_upsert_refuses_bad_input(actor, slug, name, message):
    with pytest.raises(ValidationFailed, match=f"^{re.escape(message)}$"):
        space_upsert(slug=slug, name=name, actor=actor)


def test_manual_membership_add_is_idempotent_and_a_new_role_is_audited(actor):
    space, ann = SpaceFactory(slug="hq"), UserFactory(username="ann")
    space_member_add(space=space, user=ann, actor=actor)
    space_member_add(space=space, user=ann, actor=actor)
    space_member_add(space=space, user=ann, role="moderator", actor=actor)
    assert list(SpaceMembership.objects.values_list("source", "role")) == [("manual", "moderator")]
    assert list(AuditEvent.objects.order_by("id").values_list("action", "detail")) == [
        ("space.member_added", {"space": "hq", "source": "manual", "role": "member"}),
        (
            "space.member_role_changed",
            {"space": "hq", "source": "manual", "role": ["member", "moderator"]},
        ),
    ]


def test_manual_membership_refuses_an_unknown_role(actor):
    with pytest.raises(
        ValidationFailed, match="^role: expected one of member, contributor, moderator$"
    ):
        space_member_add(space=SpaceFactory(), user=UserFactory(), role="owner", actor=actor)


def test_removing_the_manual_reason_keeps_persona_reasons(define, evaluate, actor):
    ann = UserFactory(username="ann", department="Sales")
    evaluate(define("sales", {"attr": "department", "op": "eq", "value": "Sales"}, spaces=("hq",)))
    space = SpaceFactory._meta.model.objects.get(slug="hq")
    space_member_add(space=space, user=ann, actor=actor)
    assert space_member_remove(space=space, user=ann, actor=actor) is True
    assert space_member_remove(space=space, user=ann, actor=actor) is False
    assert list(SpaceMembership.objects.values_list("source", flat=True)) == ["persona"]


def test_deleting_a_space_audits_every_membership_it_takes_along(define, evaluate, actor):
    from personas.models import Space
    from personas.services import space_delete

    ann = UserFactory(username="ann", department="Sales")
    ben = UserFactory(username="ben")
    evaluate(define("sales", {"attr": "department", "op": "eq", "value": "Sales"}))
    space = Space.objects.get(slug="space")
    space_member_add(space=space, user=ben, role="moderator", actor=actor)
    space_delete(space=space, actor=actor)
    removed = AuditEvent.objects.filter(action="space.member_removed").order_by("target_id")
    assert sorted((e.target_id, tuple(sorted(e.detail.items()))) for e in removed) == sorted(
        [
            (
                str(ann.pk),
                (
                    ("persona", "sales"),
                    ("role", "member"),
                    ("source", "persona"),
                    ("space", "space"),
                ),
            ),
            (str(ben.pk), (("role", "moderator"), ("source", "manual"), ("space", "space"))),
        ]
    )
    assert AuditEvent.objects.get(action="space.deleted").detail["members"] == 2
