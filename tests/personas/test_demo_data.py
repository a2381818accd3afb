"""`manage.py demo_data` (issue 12, item 9): a small company through the services."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from personas.models import Persona, Space, SpaceMembership
from users.models import AuditEvent, CustomField, Role, User

pytestmark = pytest.mark.django_db


def _load() -> str:
    out = io.StringIO()
    call_command("demo_data", stdout=out)
    return out.getvalue()


def test_demo_data_refuses_without_debug(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="only with DEBUG on"):
        _load()
    assert not User.objects.exists()


def test_demo_data_loads_a_small_company_once(settings):
    settings.DEBUG = True
    first = _load()

    people = User.objects.filter(username__endswith="@demo.example.com")
    assert people.count() == 29
    assert people.filter(manager__isnull=True).count() == 1  # the CEO
    assert people.filter(hire_date__isnull=True).count() == 0
    assert all(p.custom.get("location") for p in people)
    assert set(Role.objects.values_list("display_name", flat=True)) >= {
        "Engineering",
        "Sales",
        "Research",
        "People",
        "Leads",
    }
    assert set(CustomField.objects.values_list("key", flat=True)) >= {"location", "remote"}
    assert Space.objects.count() == 5 and Persona.objects.count() == 5
    all_hands = SpaceMembership.objects.filter(space__slug="all-hands")
    assert all_hands.values("user").distinct().count() == 29
    assert SpaceMembership.objects.filter(space__slug="leads").count() == 5
    assert SpaceMembership.objects.filter(space__slug="engineering").count() == 10
    assert AuditEvent.objects.filter(action="user.created", actor_name="demo_data").count() == 29
    assert "demo company: 29 people" in first

    counts = (User.objects.count(), SpaceMembership.objects.count(), Role.objects.count())
    _load()
    assert (User.objects.count(), SpaceMembership.objects.count(), Role.objects.count()) == counts
