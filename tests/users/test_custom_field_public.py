"""Whether profiles show a custom field is the admin's choice (CustomField.public)."""

from __future__ import annotations

import pytest

from users.models import AuditEvent, CustomField
from users.selectors import custom_fields_by_key
from users.services import custom_field_define

pytestmark = pytest.mark.django_db


def test_a_field_is_private_until_the_admin_marks_it_public(actor):
    field, created = custom_field_define(key="office", type="string", actor=actor)
    assert (created, field.public) == (True, False)

    custom_field_define(key="office", type="string", label="Office", public=True, actor=actor)

    assert CustomField.objects.get(key="office").public is True
    event = AuditEvent.objects.get(action="custom_field.changed")
    assert event.detail == {"public": [False, True]}


def test_redefining_without_public_keeps_it(actor):
    custom_field_define(key="office", type="string", public=True, actor=actor)

    custom_field_define(key="office", type="string", label="Site", actor=actor)

    field = CustomField.objects.get(key="office")
    assert (field.label, field.public) == ("Site", True)
    assert AuditEvent.objects.get(action="custom_field.relabelled").detail == {
        "label": ["Office", "Site"]
    }


def test_the_definitions_by_key_are_the_stored_rows_in_key_order(actor):
    custom_field_define(key="site", type="string", label="Site", public=True, actor=actor)
    custom_field_define(key="level", type="number", actor=actor)

    fields = custom_fields_by_key()

    assert list(fields) == ["level", "site"]
    assert fields["site"] == CustomField.objects.get(key="site")
    assert (fields["site"].label, fields["site"].public, fields["level"].type) == (
        "Site",
        True,
        "number",
    )
    assert not fields["site"]._state.adding
