"""Shared state under concurrency, on the real database: one winner for a replayed
assertion, for a consumed request ID, and for the first SP key."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from django.db import connection, transaction

from sso.inbound import ValidLogin
from sso.keys import keys_cache_clear, sp_keys_active
from sso.login import assertion_remember, outstanding_request_consume, outstanding_request_remember
from sso.models import IdentityProvider, SPKey
from sso.refusals import RefusalReason, SamlRefused

pytestmark = pytest.mark.django_db(transaction=True)


def run_together(worker: Callable[[], object], n: int = 4) -> list[object]:
    """Run worker in n threads (each with its own connection) released at once."""
    barrier = threading.Barrier(n)
    results: list[object] = []
    lock = threading.Lock()

    def target() -> None:
        try:
            barrier.wait()
            outcome: object = worker()
        except Exception as exc:  # collected and asserted by the test
            outcome = exc
        finally:
            connection.close()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=target) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


@pytest.fixture
def idp():
    return IdentityProvider.objects.create(
        slug="acme", entity_id="e", sso_url="https://i.example.com/"
    )


def test_a_replayed_assertion_is_accepted_exactly_once(idp):
    valid = ValidLogin(
        name_id="ann@example.com",
        name_id_format="",
        session_index="",
        attributes={},
        assertion_id="_same_assertion",
        in_response_to=None,
        accepted_until=int(time.time()) + 300,
    )

    def worker() -> str:
        with transaction.atomic():
            assertion_remember(idp=idp, valid=valid)
        return "accepted"

    results = run_together(worker)

    assert results.count("accepted") == 1
    refused = [r for r in results if isinstance(r, SamlRefused)]
    assert len(refused) == 3
    assert {r.reason for r in refused} == {RefusalReason.REPLAY}


def test_a_request_id_is_consumed_exactly_once(idp):
    outstanding_request_remember(idp=idp, request_id="_req1", kind="authn", browser="b1")

    results = run_together(
        lambda: outstanding_request_consume(idp=idp, request_id="_req1", kind="authn", browser="b1")
    )

    assert sorted(results, key=str) == [False, False, False, True]


def test_first_use_creates_exactly_one_sp_key_across_threads():
    keys_cache_clear()

    results = run_together(lambda: [k.pk for k in sp_keys_active()])

    assert SPKey.objects.count() == 1
    assert results == [[SPKey.objects.get().pk]] * 4
    keys_cache_clear()


def test_concurrent_first_logins_of_one_person_make_one_account(idp):
    from sso.provisioning import user_provision_from_login, user_roles_from_login
    from users.models import User

    def worker() -> str:
        with transaction.atomic():
            result = user_provision_from_login(
                idp=idp, name_id="ann@example.com", attributes={"memberOf": ["Engineering"]}
            )
            user_roles_from_login(idp=idp, result=result)
        return str(result.user.pk)

    results = run_together(worker)

    assert User.objects.count() == 1
    assert results == [str(User.objects.get().pk)] * 4


def test_ephemeral_rows_commit_without_waiting_for_the_wal_flush_only_when_outermost(idp):
    from axero_idp.ephemeral import ephemeral_write

    def setting() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            return cursor.fetchone()[0]

    with ephemeral_write():
        relaxed = setting()
    with transaction.atomic():
        outer = setting()
        with ephemeral_write():
            nested = setting()

    assert (relaxed, outer, nested) == ("off", "on", "on")
