"""A small organisation for the employee pages: a chain of three managers above Ann,
two reports under her, a space she is in twice over (an admin added her, and a persona
put her there), and one she is not in."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from personas.models import Space
from personas.services import (
    SpaceGrant,
    persona_evaluate,
    persona_upsert,
    space_member_add,
    space_upsert,
)
from tests.factories import CustomFieldFactory, UserFactory
from users.models import User
from users.services import Actor


@dataclass
class Org:
    ceo: User
    vp: User
    lead: User
    ann: User
    reports: list[User]
    space: Space
    other_space: Space


def person(username: str, first: str, last: str, title: str, manager: User | None, **extra) -> User:
    return UserFactory(
        username=username,
        email=f"{username}@example.com",
        first_name=first,
        last_name=last,
        title=title,
        department=extra.pop("department", "Engineering"),
        manager=manager,
        **extra,
    )


@pytest.fixture
def org(db) -> Org:
    actor = Actor.system("tests")
    ceo = person("cara", "Cara", "Stone", "Chief Executive", None, department="Board")
    vp = person("victor", "Victor", "Vale", "VP Engineering", ceo)
    lead = person("lena", "Lena", "Lind", "Head of Platform", vp)
    ann = person(
        "ann",
        "Ann",
        "Lee",
        "Staff Engineer",
        lead,
        hire_date=dt.date(2024, 5, 6),
        custom={"office": "Berlin", "badge": "1234", "skills": ["SAML", "SCIM"]},
    )
    reports = [
        person("bob", "Bob", "Bauer", "Engineer", ann),
        person("cem", "Cem", "Kaya", "Engineer", ann),
    ]
    CustomFieldFactory(key="office", label="Office", public=True)
    CustomFieldFactory(key="skills", label="Skills", type="list", public=True)
    CustomFieldFactory(key="badge", label="Badge number", public=False)
    space_upsert(slug="platform", name="Platform guild", actor=actor)
    space_upsert(slug="board", name="Board room", actor=actor)
    persona, _ = persona_upsert(
        slug="engineers",
        name="Engineers",
        rule={"attr": "department", "op": "eq", "value": "Engineering"},
        spaces=[SpaceGrant(space="platform", role="member")],
        actor=actor,
        schedule_evaluation=False,
    )
    persona_evaluate(persona=persona, actor=actor, today=dt.date(2026, 3, 1))
    space = Space.objects.get(slug="platform")
    space_member_add(space=space, user=ann, role="moderator", actor=actor)
    return Org(ceo, vp, lead, ann, reports, space, Space.objects.get(slug="board"))


@pytest.fixture
def ann_client(client, org):
    client.force_login(org.ann)
    return client
