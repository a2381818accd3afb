"""What personas announces: space memberships added and removed.

Memberships change set-based (one INSERT ... SELECT per persona and space), so the
announcement is set-based too: a listener (a "sink", registered in its AppConfig.ready())
is handed a SELECT of the changed rows and returns one statement that records them in
the same transaction, on PostgreSQL as part of the very statement that changes them.
personas/ never imports its listeners.

The rows a sink reads have the columns (user_id, space_id, space_slug, persona_slug,
role, source); persona_slug and role may be NULL.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

ADDED: Final = "space.member_added"
REMOVED: Final = "space.member_removed"


@dataclass(frozen=True)
class MembershipChange:
    kind: str  # ADDED or REMOVED
    actor_kind: str
    at: dt.datetime


@dataclass(frozen=True)
class MembershipRow:
    user_id: uuid.UUID
    space_id: int
    space_slug: str
    persona_slug: str | None
    role: str | None
    source: str


class MembershipSink(Protocol):
    def statement(
        self, change: MembershipChange, rows_sql: str, rows_params: Sequence[Any]
    ) -> tuple[str, list[Any]]:
        """One INSERT ... SELECT ... FROM (rows_sql) (PostgreSQL, may be a CTE member)."""

    def record(self, change: MembershipChange, rows: Sequence[MembershipRow]) -> None:
        """The same, for rows known in Python (other databases, single changes)."""


_sinks: list[MembershipSink] = []


def sink_register(sink: MembershipSink) -> None:
    """Register a listener (call from AppConfig.ready(); registering twice is a no-op)."""
    if sink not in _sinks:
        _sinks.append(sink)


def sinks() -> list[MembershipSink]:
    return list(_sinks)


def rows_announce(change: MembershipChange, rows: Sequence[MembershipRow]) -> None:
    """Hand rows known in Python to every sink (inside the changing transaction)."""
    if rows:
        for sink in _sinks:
            sink.record(change, rows)
