"""Time each hand-written statement of sso/ against its ORM equivalent on the real
PostgreSQL (the numbers in the comments beside them). Dev-only, run by hand:

    DATABASE_URL=postgres://… SECRET_KEY=… .venv/bin/python bench/sso_rawsql_gains.py

Everything runs in one transaction that is rolled back: the database is left as it was.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "axero_idp.settings")

import django

django.setup()

from django.db import IntegrityError, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from sso.hop import pending_response_take  # noqa: E402
from sso.inbound import ValidLogin  # noqa: E402
from sso.login.state import AUTHN, assertion_remember  # noqa: E402
from sso.models import (  # noqa: E402
    IdentityProvider,
    OutstandingRequest,
    PendingResponse,
    SeenAssertion,
)

N = 1000


def _valid(assertion_id: str, in_response_to: str | None) -> ValidLogin:
    return ValidLogin(
        name_id="ann@example.com",
        name_id_format="",
        session_index="",
        attributes={},
        assertion_id=assertion_id,
        in_response_to=in_response_to,
        accepted_until=int(time.time()) + 300,
    )


def _timed(label: str, setup: Callable[[int], object], run: Callable[[object], object]) -> float:
    args = [setup(i) for i in range(N)]
    samples = []
    for arg in args:
        start = time.perf_counter_ns()
        run(arg)
        samples.append(time.perf_counter_ns() - start)
    # The 10th percentile as well: on a shared machine the median carries the
    # scheduler's noise, the fast tail is closer to the statement's own cost.
    median = statistics.median(samples) / 1000
    p10 = statistics.quantiles(samples, n=10)[0] / 1000
    print(f"{label:58s} p10 {p10:7.1f} µs  median {median:7.1f} µs")
    return median


def _outstanding(idp: IdentityProvider, i: int, tag: str) -> str:
    request_id = f"{tag}-{i}-{secrets.token_hex(4)}"
    OutstandingRequest.objects.create(
        request_id=request_id,
        idp=idp,
        kind=AUTHN,
        browser="b",
        expires_at=timezone.now() + dt.timedelta(minutes=10),
    )
    return request_id


def _orm_remember_and_consume(idp: IdentityProvider, valid: ValidLogin) -> tuple[bool, str]:
    try:
        with transaction.atomic():
            SeenAssertion.objects.create(
                idp=idp, assertion_id=valid.assertion_id, expires_at=timezone.now()
            )
    except IntegrityError:
        return False, ""
    rows = list(
        OutstandingRequest.objects.select_for_update()
        .filter(
            request_id=valid.in_response_to,
            idp=idp,
            kind=AUTHN,
            browser="b",
            expires_at__gt=timezone.now(),
        )
        .values_list("pk", "dry_run_by")
    )
    OutstandingRequest.objects.filter(pk__in=[pk for pk, _ in rows]).delete()
    return True, rows[0][1] if rows else ""


def _orm_remember(idp: IdentityProvider, valid: ValidLogin) -> bool:
    try:
        with transaction.atomic():
            SeenAssertion.objects.create(
                idp=idp, assertion_id=valid.assertion_id, expires_at=timezone.now()
            )
    except IntegrityError:
        return False
    return True


def _pending(idp: IdentityProvider, i: int) -> str:
    key = secrets.token_urlsafe(16)
    PendingResponse.objects.create(
        key=key,
        idp=idp,
        saml_response="x" * 4000,
        relay_state="/",
        expires_at=timezone.now() + dt.timedelta(minutes=2),
    )
    return key


def _orm_take(idp: IdentityProvider, key: str) -> PendingResponse | None:
    pending = PendingResponse.objects.select_for_update().filter(key=key, idp=idp).first()
    if pending is not None:
        PendingResponse.objects.filter(pk=pending.pk).delete()
    return pending


def _returned_to_the_orm(idp: IdentityProvider) -> None:
    """The statements that went back to the ORM (no round trip saved): what each costs
    now against the hand-written version it replaced."""
    from django.db import connection

    from axero_idp.rawsql import model_columns, table
    from sso.models import SamlSession
    from sso.selectors import idp_active
    from users.models import User

    quote = connection.ops.quote_name
    idp_sql = (
        f"SELECT {model_columns(IdentityProvider)} FROM {table(IdentityProvider)} "
        f"WHERE {quote('slug')} = %s AND {quote('is_active')}"
    )
    _timed("idp_active, objects.raw()", lambda i: idp.slug,
           lambda slug: list(IdentityProvider.objects.raw(idp_sql, [slug])))  # fmt: skip
    _timed("idp_active, ORM filter().first()", lambda i: idp.slug,
           lambda slug: IdentityProvider.objects.filter(slug=slug, is_active=True).first())  # fmt: skip
    _timed("idp_active, hand-written (now)", lambda i: idp.slug, idp_active)  # type: ignore[arg-type]
    user = User.objects.create(username=f"timing-{secrets.token_hex(3)}", email="t@example.com")
    # The account lookup by NameID stayed hand-written: its measurement is in the
    # comment of sso.accounts._found_by_name_id, its statement count in
    # tests/sso/test_unit_rawsql.py.
    sessions = table(SamlSession)

    def raw_insert(key: object) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {sessions} (idp_id, user_id, session_key, name_id, "
                "name_id_format, session_index, created) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [idp.pk, user.pk, key, "n", "", "s", timezone.now()],
            )

    _timed("SAML session record, raw INSERT (before)",
           lambda i: f"raw{i}-{secrets.token_hex(8)}", raw_insert)  # fmt: skip
    _timed("SAML session record, ORM create (now)", lambda i: f"orm{i}-{secrets.token_hex(8)}",
           lambda key: SamlSession.objects.create(idp=idp, user=user, session_key=key,
                                                  name_id="n", session_index="s"))  # fmt: skip


def main() -> None:
    with transaction.atomic():
        idp = IdentityProvider.objects.create(
            slug=f"timing-{secrets.token_hex(3)}", entity_id="e", sso_url="https://e.test/"
        )
        _timed(
            "assertion_remember + consume, raw CTE (1 statement)",
            lambda i: _valid(f"raw-c-{i}", _outstanding(idp, i, "raw")),
            lambda v: assertion_remember(idp=idp, valid=v, consume_for="b"),  # type: ignore[arg-type]
        )
        _timed(
            "assertion_remember + consume, ORM (5 statements)",
            lambda i: _valid(f"orm-c-{i}", _outstanding(idp, i, "orm")),
            lambda v: _orm_remember_and_consume(idp, v),  # type: ignore[arg-type]
        )
        _timed(
            "assertion_remember, raw INSERT … ON CONFLICT (1 statement)",
            lambda i: _valid(f"raw-{i}", None),
            lambda v: assertion_remember(idp=idp, valid=v),  # type: ignore[arg-type]
        )
        _timed(
            "assertion_remember, ORM create in a savepoint (3 statements)",
            lambda i: _valid(f"orm-{i}", None),
            lambda v: _orm_remember(idp, v),  # type: ignore[arg-type]
        )
        _timed(
            "pending_response_take, raw DELETE … RETURNING (1 statement)",
            lambda i: _pending(idp, i),
            lambda key: pending_response_take(idp=idp, key=key),  # type: ignore[arg-type]
        )
        _timed(
            "pending_response_take, ORM select_for_update + delete (2)",
            lambda i: _pending(idp, i),
            lambda key: _orm_take(idp, key),  # type: ignore[arg-type]
        )
        _returned_to_the_orm(idp)
        transaction.set_rollback(True)


if __name__ == "__main__":
    main()
