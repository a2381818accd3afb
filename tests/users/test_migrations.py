"""Data migrations, run against the real schema."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from tests.factories import UserFactory
from users.models import User
from users.services import Actor, audit_record

pytestmark = pytest.mark.django_db

deactivated_by_migration = importlib.import_module("users.migrations.0006_user_deactivated_by")


def test_existing_deactivations_take_their_author_from_the_audit_trail():
    by_admin, by_scim, untraced, active = (
        UserFactory(is_active=False),
        UserFactory(is_active=False),
        UserFactory(is_active=False),
        UserFactory(),
    )
    audit_record(actor=Actor.scim("onelogin"), action="user.deactivated", target=by_admin)
    audit_record(actor=Actor.admin("root"), action="user.deactivated", target=by_admin)
    audit_record(actor=Actor.scim("onelogin"), action="user.deactivated", target=by_scim)

    deactivated_by_migration.deactivated_by_from_audit(apps, None)

    assert dict(User.objects.values_list("pk", "deactivated_by")) == {
        by_admin.pk: "admin",
        by_scim.pk: "scim",
        untraced.pk: "",
        active.pk: "",
    }
