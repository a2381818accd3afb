"""SCIM PUT and PATCH read the user once under its row lock (user_for_update) and hand
that row to user_update (locked=True) instead of reading it a second time."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.scim.conftest import PATCH_OP, USER_SCHEMA
from users.models import User

pytestmark = pytest.mark.django_db


def _locking_reads(statements: list[str]) -> list[str]:
    return [s for s in statements if s.startswith("SELECT") and s.rstrip().endswith("FOR UPDATE")]


@pytest.fixture
def user_id(scim) -> str:
    created = scim.post("/Users", {"schemas": [USER_SCHEMA], "userName": "w@example.com"})
    return str(created.json()["id"])


def test_a_patch_reads_the_user_under_lock_once_and_writes_the_change(scim, user_id):
    body = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"title": "CTO"}}]}

    with CaptureQueriesContext(connection) as ctx:
        response = scim.patch(f"/Users/{user_id}", body)

    assert response.status_code == 200
    assert response.json()["title"] == "CTO" and response.json()["meta"]["version"] == 'W/"2"'
    assert len(_locking_reads([q["sql"] for q in ctx.captured_queries])) == 1
    assert User.objects.get(pk=user_id).title == "CTO"


def test_a_put_reads_the_user_under_lock_once_and_writes_the_change(scim, user_id):
    body = {"schemas": [USER_SCHEMA], "userName": "w@example.com", "title": "CFO"}

    with CaptureQueriesContext(connection) as ctx:
        response = scim.put(f"/Users/{user_id}", body)

    assert response.status_code == 200
    assert response.json()["title"] == "CFO"
    assert len(_locking_reads([q["sql"] for q in ctx.captured_queries])) == 1
    assert User.objects.get(pk=user_id).title == "CFO"
