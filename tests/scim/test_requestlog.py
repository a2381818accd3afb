"""The provisioning request log: recorded, redacted, truncated, pruned."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from scim.models import ScimRequestLog
from scim.requestlog import BODY_LIMIT
from scim.tasks import request_log_prune
from tests.scim.conftest import ScimClient

pytestmark = pytest.mark.django_db


def test_every_request_is_logged_with_token_status_and_scim_error(scim):
    scim.post("/Users", {"userName": "logged@example.com"})
    scim.get("/Users?filter=bad filter here")

    created, failed = ScimRequestLog.objects.order_by("id")
    assert (created.token_name, created.method, created.path, created.status) == (
        "onelogin",
        "POST",
        "/scim/v2/Users",
        201,
    )
    assert (created.scim_type, created.error_detail) == ("", "")
    assert json.loads(created.request_body) == {"userName": "logged@example.com"}
    assert created.request_id
    assert (failed.method, failed.path, failed.status, failed.scim_type) == (
        "GET",
        "/scim/v2/Users?filter=bad%20filter%20here",
        400,
        "invalidFilter",
    )
    assert failed.error_detail


def test_unauthenticated_requests_are_logged_without_a_token_name():
    ScimClient("axscim_wrong").get("/Users")

    entry = ScimRequestLog.objects.get()
    assert (entry.token_name, entry.status, entry.error_detail) == (
        "",
        401,
        "A valid bearer token is required.",
    )


def test_passwords_and_bearer_tokens_are_redacted(scim):
    scim.post(
        "/Users",
        {
            "userName": "secret@example.com",
            "password": "hunter2-very-secret",
            "nested": {"Password": "also-secret", "note": "Bearer axscim_abcdef"},
        },
    )
    scim.post("/Users", raw=b'{"userName": "x", "password": "unparsable-secret"')

    logged, broken = ScimRequestLog.objects.order_by("id")
    assert json.loads(logged.request_body) == {
        "userName": "secret@example.com",
        "password": "[redacted]",
        "nested": {"Password": "[redacted]", "note": "[redacted]"},
    }
    assert "unparsable-secret" not in broken.request_body
    assert '"password": [redacted]' in broken.request_body


def test_large_bodies_are_truncated(scim):
    scim.post("/Users", {"userName": "big@example.com", "title": "x" * 20_000})

    entry = ScimRequestLog.objects.get()
    assert len(entry.request_body) == BODY_LIMIT + len("…[truncated]")
    assert entry.request_body.endswith("…[truncated]")


def test_prune_removes_rows_older_than_the_retention_and_keeps_the_rest(settings):
    settings.SCIM_REQUEST_LOG_RETENTION_DAYS = 30
    now = timezone.now()
    for days in (40, 31, 29, 0):
        ScimRequestLog.objects.create(
            created_at=now - dt.timedelta(days=days),
            method="GET",
            path=f"/scim/v2/Users?age={days}",
            status=200,
            duration_ms=1,
        )

    assert request_log_prune() == 2
    assert request_log_prune() == 0  # idempotent
    assert sorted(ScimRequestLog.objects.values_list("path", flat=True)) == [
        "/scim/v2/Users?age=0",
        "/scim/v2/Users?age=29",
    ]


def test_prune_is_scheduled_daily(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["scim-request-log-prune"]

    assert entry == {"task": "scim.tasks.request_log_prune", "schedule": 86400.0}
