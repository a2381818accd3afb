"""`manage.py demo_data`: a small company to explore the admin with: a few dozen people
with managers, hire dates, roles and custom fields, and spaces with the personas that
fill them. Everything goes through the services (audited like any other change);
running it again adds nothing twice."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any, Final

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from axero_idp.errors import UniquenessConflict
from personas.services import personas_import
from users.models import MembershipSource, Role, Source, User
from users.services import Actor, custom_field_define, role_create, role_members_add, user_create

ACTOR: Final = Actor.system("demo_data")
DOMAIN: Final = "demo.example.com"
FIRST: Final = [
    "Maya",
    "Liam",
    "Noah",
    "Emma",
    "Olivia",
    "Ava",
    "Lucas",
    "Mia",
    "Ethan",
    "Zoe",
    "Leo",
    "Nora",
    "Omar",
    "Ines",
    "Ravi",
    "Sofia",
    "Jonas",
    "Lena",
    "Tariq",
    "Yuki",
    "Marta",
    "Felix",
    "Aisha",
    "Pablo",
    "Chloe",
    "Viktor",
    "Hana",
    "Diego",
    "Freya",
    "Samir",
]
LAST: Final = [
    "Schmidt",
    "Garcia",
    "Chen",
    "Okafor",
    "Rossi",
    "Novak",
    "Silva",
    "Kowalski",
    "Haddad",
    "Tanaka",
    "Jensen",
    "Moreau",
    "Patel",
    "Fischer",
    "Ivanova",
    "Costa",
    "Nakamura",
    "Berg",
    "Dubois",
    "Kim",
]
# (department, role, head's title, reports' title, how many reports)
TEAMS: Final = (
    ("Engineering", "Engineering", "VP Engineering", "Software Engineer", 9),
    ("Sales", "Sales", "VP Sales", "Account Executive", 6),
    ("Research", "Research", "Head of Research", "Researcher", 5),
    ("People", "People", "Head of People", "People Partner", 4),
)
LOCATIONS: Final = ("Berlin", "Lisbon", "Toronto", "Remote")
PERSONAS: Final[dict[str, Any]] = {
    "spaces": [
        {"slug": "all-hands", "name": "All hands"},
        {"slug": "engineering", "name": "Engineering"},
        {"slug": "new-hires", "name": "New hires"},
        {"slug": "leads", "name": "Leads"},
        {"slug": "berlin", "name": "Berlin office"},
    ],
    "personas": [
        {
            "slug": "everyone",
            "name": "Everyone",
            "rule": {"attr": "email", "op": "contains", "value": f"@{DOMAIN}"},
            "spaces": [{"space": "all-hands"}],
        },
        {
            "slug": "engineers",
            "name": "Engineers",
            "rule": {"attr": "roles", "op": "contains", "value": "Engineering"},
            "spaces": [{"space": "engineering", "role": "contributor"}],
        },
        {
            "slug": "new-hires",
            "name": "Hired in the last 90 days",
            "rule": {"attr": "hire_date", "op": "within_days", "value": 90},
            "spaces": [{"space": "new-hires"}],
        },
        {
            "slug": "leads",
            "name": "Leads",
            "rule": {"attr": "roles", "op": "contains", "value": "Leads"},
            "spaces": [
                {"space": "leads", "role": "moderator"},
                {"space": "all-hands", "role": "moderator"},
            ],
        },
        {
            "slug": "berlin",
            "name": "Based in Berlin",
            "rule": {"attr": "custom.location", "op": "eq", "value": "Berlin"},
            "spaces": [{"space": "berlin"}],
        },
    ],
}


class Command(BaseCommand):
    help = "Load a small demo company (people, managers, roles, custom fields, spaces, personas)."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("demo_data loads a fictional company: it runs only with DEBUG on.")
        rng = random.Random(12)  # noqa: S311 - demo names, not secrets
        custom_field_define(key="location", type="string", label="Office", actor=ACTOR)
        custom_field_define(key="remote", type="boolean", label="Works remotely", actor=ACTOR)
        roles = {
            name: _role(name) for name in ("Engineering", "Sales", "Research", "People", "Leads")
        }
        names = iter(rng.sample([(f, last) for f in FIRST for last in LAST], 40))
        ceo = _person(next(names), "Chief Executive Officer", "Management", None, rng, years=8)
        people = [ceo]
        for department, role, head_title, title, count in TEAMS:
            head = _person(next(names), head_title, department, ceo, rng, years=6)
            team = [_person(next(names), title, department, head, rng) for _ in range(count)]
            _members(roles[role], [head, *team])
            people += [head, *team]
        _members(roles["Leads"], [p for p in people if p.title.startswith(("VP", "Head", "Chief"))])
        summary = personas_import(document=PERSONAS, actor=ACTOR)
        self.stdout.write(
            f"demo company: {len(people)} people at @{DOMAIN}, "
            f"{len(PERSONAS['spaces'])} spaces, {len(PERSONAS['personas'])} personas "
            f"({sum(r.added for r in summary.evaluations)} space memberships added)"
        )


def _role(name: str) -> Role:
    existing = Role.objects.filter(display_name=name).first()
    return existing or role_create(actor=ACTOR, display_name=name)


def _members(role: Role, people: list[User]) -> None:
    role_members_add(
        role=role, user_ids=[p.pk for p in people], source=MembershipSource.MANUAL, actor=ACTOR
    )


def _person(
    name: tuple[str, str],
    title: str,
    department: str,
    manager: User | None,
    rng: random.Random,
    years: int = 5,
) -> User:
    first, last = name
    username = f"{first}.{last}@{DOMAIN}".lower()
    existing = User.objects.filter(username=username).first()
    if existing is not None:
        return existing
    # A few recent hires, so the "new hires" persona has members.
    days = rng.randint(5, 80) if rng.random() < 0.2 else rng.randint(120, 365 * years)
    location = rng.choice(LOCATIONS)
    try:
        return user_create(
            actor=ACTOR,
            source=Source.ADMIN,
            username=username,
            attributes={
                "email": username,
                "first_name": first,
                "last_name": last,
                "title": title,
                "department": department,
                "hire_date": (timezone.now().date() - dt.timedelta(days=days)).isoformat(),
            },
            custom={"location": location, "remote": location == "Remote"},
            manager_ref=manager.username if manager else None,
        )
    except UniquenessConflict:
        return User.objects.get(username__ci=username)
