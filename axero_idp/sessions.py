"""Django's database sessions, with the round trips a login storm cannot afford removed.

Same table, same cookie, same signing and expiry as django.contrib.sessions.backends.db;
only when rows are written differs:

- A new key is not probed with SELECT first: 32 random characters (~165 bits) never
  collide in practice, and the primary key refuses the one that would (the insert then
  picks another key, as Django's own create loop does).
- Rotating the key (login() does it) does not insert a row at once: the row is inserted
  at the next save, with the session's data, by one INSERT ... ON CONFLICT DO NOTHING
  (no savepoint needed inside a caller's transaction); the rotated-away row is deleted
  then, so an old key never outlives the rotation's commit.
- A save whose key and data equal the last committed save writes nothing, so the SAML
  login can save the session inside its own transaction and the middleware's save at
  the end of the response is free (the cookie is still set: `modified` stays true).

A write made inside a transaction counts only once that transaction commits: until
then the next save writes again, as an upsert (and deletes the rotated-away row again),
so a rolled-back transaction never leaves a cookie naming a row that does not exist.

The security properties Django's store has are kept: rotation on login, server-side
invalidation by deleting rows, signed data, expiry enforced on load. (Only the
synchronous API is tuned; the async methods are Django's.)
"""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.backends.base import VALID_KEY_CHARS, CreateError
from django.contrib.sessions.backends.db import SessionStore as DbSessionStore
from django.db import connections, router, transaction
from django.utils.crypto import get_random_string


class SessionStore(DbSessionStore):
    def __init__(self, session_key: str | None = None) -> None:
        super().__init__(session_key)
        self._row_missing = False  # the key was chosen, its row not yet inserted
        self._rotated_away: str | None = None  # a stored key to delete at the next save
        self._last_written: tuple[str, bytes] | None = None
        self._committed = True  # the last write is known to be committed

    def _get_new_session_key(self) -> str:
        return get_random_string(32, VALID_KEY_CHARS)

    def cycle_key(self) -> None:
        data = self._session  # type: ignore[attr-defined]
        previous, previous_stored = self.session_key, not self._row_missing
        self._session_key = self._get_new_session_key()
        self._session_cache = data
        self._row_missing = True
        self._last_written = None
        self.modified = True
        if previous and previous_stored:
            self._rotated_away = previous

    def save(self, must_create: bool = False) -> None:
        if self.session_key is None:
            return self.create()
        fresh = must_create or self._row_missing
        data = self._get_session(no_load=fresh)  # type: ignore[attr-defined]
        fingerprint = (self.session_key, self.serializer().dumps(data))
        if not fresh and self._committed and fingerprint == self._last_written:
            return None
        if fresh:
            self._write(data, replace=False)
        elif not self._committed:
            # The row was written in a transaction that may have rolled back.
            self._write(data, replace=True)
        else:
            super().save(must_create=False)
        self._row_missing = False
        self._last_written = fingerprint
        if self._rotated_away:
            super().delete(self._rotated_away)
        self._await_commit()
        return None

    def _await_commit(self) -> None:
        using = router.db_for_write(self.model)
        if connections[using].in_atomic_block:
            self._committed = False
            transaction.on_commit(self._on_commit, using=using)
        else:
            self._on_commit()

    def _on_commit(self) -> None:
        self._committed = True
        self._rotated_away = None

    def _write(self, data: dict[str, Any], *, replace: bool) -> None:
        """One statement. Without replace, raises CreateError (Django then picks another
        key) if the key is taken; with it, inserts or overwrites the row."""
        obj = self.create_model_instance(data)
        using = router.db_for_write(self.model, instance=obj)
        connection = connections[using]
        table = connection.ops.quote_name(self.model._meta.db_table)
        conflict = (
            "DO UPDATE SET session_data = EXCLUDED.session_data, expire_date = EXCLUDED.expire_date"
            if replace
            else "DO NOTHING"
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (session_key, session_data, expire_date) "  # noqa: S608
                f"VALUES (%s, %s, %s) ON CONFLICT (session_key) {conflict}",
                [
                    obj.session_key,
                    obj.session_data,
                    connection.ops.adapt_datetimefield_value(obj.expire_date),
                ],
            )
            if not replace and cursor.rowcount != 1:
                raise CreateError

    def delete(self, session_key: str | None = None) -> None:
        if session_key is None and self._row_missing:
            # The current key was never stored; the key it replaced may have been.
            self._row_missing = False
            stale, self._rotated_away = self._rotated_away, None
            if stale:
                super().delete(stale)
            return
        super().delete(session_key)
