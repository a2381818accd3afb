"""Commits for short-lived, re-creatable rows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction


@contextmanager
def ephemeral_write() -> Iterator[None]:
    """A transaction for short-lived, re-creatable rows (a parked response, a request
    ID): PostgreSQL commits it without waiting for the WAL flush. A crash can lose the
    last fraction of a second of these, which only means that person signs in again;
    the login itself (users, replay cache, audit) always commits durably."""
    # Only when this is the outermost transaction: SET LOCAL would otherwise relax the
    # commit of a caller's transaction too.
    relax = not connection.in_atomic_block
    with transaction.atomic():
        if relax:
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        yield
