"""Rate limits (issue 15, item 1): per SCIM token and per IdP's ACS, counted in Redis
(the cache every process shares), answered 429 with Retry-After and, for SCIM, an RFC
7644 error body; a cache outage lets requests through."""

from __future__ import annotations

import pytest

from tests.scim.conftest import ScimClient

pytestmark = pytest.mark.django_db

USERS = "/scim/v2/Users"


def test_a_scim_token_over_its_rate_gets_429_with_retry_after(provisioning_token, settings):
    settings.SCIM_RATE_LIMIT_PER_MINUTE = 3
    scim = ScimClient(provisioning_token)

    answers = [scim.get(USERS) for _ in range(4)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    refused = answers[-1]
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused.json() == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": "429",
        "detail": refused.json()["detail"],
    }
    assert "More than 3 requests a minute for SCIM token 'onelogin'" in refused.json()["detail"]


def test_each_token_has_its_own_budget(provisioning_token, settings):
    from scim.tokens import scim_token_create
    from users.services import Actor

    settings.SCIM_RATE_LIMIT_PER_MINUTE = 1
    _, other = scim_token_create(name="okta", actor=Actor.system("tests"))

    assert ScimClient(provisioning_token).get(USERS).status_code == 200
    assert ScimClient(other).get(USERS).status_code == 200
    assert ScimClient(provisioning_token).get(USERS).status_code == 429


def test_zero_turns_the_limit_off(provisioning_token, settings):
    settings.SCIM_RATE_LIMIT_PER_MINUTE = 0

    assert {ScimClient(provisioning_token).get(USERS).status_code for _ in range(5)} == {200}


def test_a_cache_outage_lets_scim_through(provisioning_token, settings, caplog):
    settings.SCIM_RATE_LIMIT_PER_MINUTE = 1
    # A real outage: the cache is a Redis that does not answer (nothing listens on the
    # discard port), whichever way the counter talks to it.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
        }
    }

    assert {ScimClient(provisioning_token).get(USERS).status_code for _ in range(3)} == {200}
    assert "limit counter unavailable" in caplog.text


def test_a_window_counter_lives_in_redis_with_its_expiry():
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    from axero_idp import limits

    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        pytest.skip("the Redis counter needs REDIS_URL")

    assert [limits.counter_hit("t", window_seconds=60) for _ in range(3)] == [1, 2, 3]
    # The one-round-trip counter and the cache read the same key and value.
    assert limits.counter_value("t", window_seconds=60) == 3
    key = backend.make_and_validate_key(limits._key("t", 60))
    assert 0 < backend._cache.get_client(key).ttl(key) <= 65  # the window ends by itself
    limits.counter_reset("t", window_seconds=60)
    assert limits.counter_value("t", window_seconds=60) == 0
    assert limits.counter_hit("t", window_seconds=60) == 1
