"""Shared fixtures. The suite runs on the real PostgreSQL and Redis (make test)."""

from __future__ import annotations

import os
import time
import uuid

import pytest

from users.services import Actor


@pytest.fixture(autouse=True)
def _fresh_limit_counters(monkeypatch) -> None:
    """Rate counters (axero_idp.limits) live in the shared cache: each test gets its own,
    and its windows stand still (a test crossing a minute boundary would otherwise see a
    counter start again mid-test)."""
    monkeypatch.setattr("axero_idp.limits.KEY_PREFIX", f"limits-test-{uuid.uuid4().hex}")
    frozen = time.time()
    monkeypatch.setattr("axero_idp.limits._now", lambda: frozen)


@pytest.fixture(autouse=True)
def _request_log_written_directly(settings) -> None:
    """Tests read the SCIM request log right after the request, with no worker to drain
    the Redis buffer: each request writes its row, as without Redis. The buffer's own
    tests (tests/scim/test_requestlog_buffer.py) turn it back on."""
    settings.SCIM_REQUEST_LOG_BUFFER = False


@pytest.fixture(autouse=True)
def _sp_keys_from_this_test():
    """Each test reads the SP keys from its own database state. The process caches them
    for 60 s (sso.keys), longer than a test's rolled-back transaction lives: a test that
    began with the previous test's cached key met a new one when the 60 s ran out
    halfway, and its IdP peer then saw an unsigned request or a foreign encryption."""
    from sso.keys import keys_cache_clear

    keys_cache_clear()
    yield
    keys_cache_clear()


@pytest.fixture
def actor() -> Actor:
    return Actor.system("tests")


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser(
        "root", "correct-horse-battery-1", email="root@example.com"
    )


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def provisioning_token(db) -> str:
    """The raw value of a live provisioning (SCIM) token named "onelogin"."""
    from scim.tokens import scim_token_create

    _, raw = scim_token_create(name="onelogin", actor=Actor.system("tests"))
    return raw


@pytest.fixture
def committing(django_capture_on_commit_callbacks):
    """`with committing():` runs the on_commit callbacks (domain events) of the code
    inside it when the block ends, as a real commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def ci_requires(tool: str) -> None:
    """Under CI=true a missing tool fails the test instead of skipping it."""
    message = f"{tool} is not installed"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI must install it: see .ci/run)")
    pytest.skip(message)
