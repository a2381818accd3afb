"""A unique=True field's clash becomes 409 uniqueness through its constraint's real name
(Django names it with a hash), and another integrity error on the same table stays one."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from axero_idp.errors import UniquenessConflict, raise_for_unique_field
from users.models import Connection, CustomField
from users.services.actors import Actor
from users.services.connections import connection_create

pytestmark = pytest.mark.django_db

ADMIN = Actor.admin("admin")


def _integrity_error(model, **fields) -> IntegrityError:
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        model.objects.create(**fields)
    return caught.value


def test_a_second_connection_with_the_same_slug_is_a_uniqueness_conflict():
    connection_create(slug="acme", vendor="onelogin", actor=ADMIN)

    with pytest.raises(UniquenessConflict, match="'acme' exists already"):
        connection_create(slug="acme", vendor="okta", actor=ADMIN)
    assert Connection.objects.get(slug="acme").vendor == "onelogin"


def test_the_unique_field_clash_is_found_by_the_constraint_name():
    CustomField.objects.create(key="office", type="string", label="Office")
    exc = _integrity_error(CustomField, key="office", type="string", label="Again")

    with pytest.raises(UniquenessConflict, match="taken"):
        raise_for_unique_field(exc, model=CustomField, field="key", detail="taken")


def test_a_not_null_violation_on_that_table_is_not_a_uniqueness_conflict():
    exc = _integrity_error(CustomField, key="desk", type="string", label=None)

    with pytest.raises(IntegrityError):
        raise_for_unique_field(exc, model=CustomField, field="key", detail="taken")
