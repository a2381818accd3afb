"""Password guessing on /admin/login/ is throttled per username and per client address
(issue 8, finding 19), with counters shared through the cache (Redis in the suite)."""

from __future__ import annotations

import pytest
from django.test import Client

from axero_idp.admin_login import THROTTLED

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-1"  # tests/conftest.py admin_user


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    # Dozens of sign-ins: PBKDF2's deliberate slowness is not what is tested here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _sign_in(client: Client, username: str, password: str, address: str = "198.51.100.7"):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password},
        REMOTE_ADDR=address,
    )


def _signed_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == "/admin/"


@pytest.fixture
def limits(settings):
    settings.ADMIN_LOGIN_MAX_FAILURES_PER_USERNAME = 5
    settings.ADMIN_LOGIN_MAX_FAILURES_PER_IP = 30


def test_after_five_failures_even_the_right_password_is_refused(client, admin_user, limits):
    failures = [_sign_in(client, "root", f"guess-{i}") for i in range(5)]

    refused = _sign_in(client, "root", PASSWORD)

    assert all(r.status_code == 200 for r in failures)
    assert "Please enter the correct username and password" in failures[0].content.decode()
    assert refused.status_code == 200 and not _signed_in(refused)
    assert THROTTLED in refused.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_username_is_throttled_from_every_address_and_in_any_case(admin_user, limits):
    for i in range(5):
        _sign_in(Client(), "ROOT", f"guess-{i}", address=f"203.0.113.{i}")

    response = _sign_in(Client(), "root", PASSWORD, address="192.0.2.99")

    assert THROTTLED in response.content.decode()


def test_one_address_guessing_many_usernames_is_throttled(admin_user, limits):
    for i in range(30):
        _sign_in(Client(), f"user-{i}", "guess")

    same_address = _sign_in(Client(), "root", PASSWORD)
    other_address = _sign_in(Client(), "root", PASSWORD, address="192.0.2.1")

    assert THROTTLED in same_address.content.decode()
    assert _signed_in(other_address)


def test_a_successful_sign_in_clears_the_username_failures(admin_user, limits):
    for i in range(4):
        _sign_in(Client(), "root", f"guess-{i}")
    assert _signed_in(_sign_in(Client(), "root", PASSWORD))

    for i in range(4):
        _sign_in(Client(), "root", f"again-{i}")

    assert _signed_in(_sign_in(Client(), "root", PASSWORD))


def test_a_throttled_attempt_never_checks_the_password(client, admin_user, limits, monkeypatch):
    for i in range(5):
        _sign_in(client, "root", f"guess-{i}")
    monkeypatch.setattr(
        "django.contrib.auth.forms.authenticate", lambda *a, **kw: pytest.fail("checked")
    )

    assert THROTTLED in _sign_in(client, "root", PASSWORD).content.decode()


def test_behind_a_trusted_proxy_each_client_is_counted_on_its_own(admin_user, limits, settings):
    settings.TRUSTED_PROXY_HOPS = 1
    proxy = "10.0.0.2"  # every request reaches gunicorn from the load balancer
    for i in range(30):
        Client().post(
            "/admin/login/",
            {"username": f"user-{i}", "password": "guess"},
            REMOTE_ADDR=proxy,
            HTTP_X_FORWARDED_FOR="198.51.100.7",
        )

    attacker = Client().post(
        "/admin/login/?next=/admin/",
        {"username": "root", "password": PASSWORD},
        REMOTE_ADDR=proxy,
        HTTP_X_FORWARDED_FOR="198.51.100.7",
    )
    colleague = Client().post(
        "/admin/login/?next=/admin/",
        {"username": "root", "password": PASSWORD},
        REMOTE_ADDR=proxy,
        HTTP_X_FORWARDED_FOR="192.0.2.1",
    )

    assert THROTTLED in attacker.content.decode()
    assert _signed_in(colleague)
