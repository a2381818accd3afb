"""The deferred manager link: a user whose manager reference named no one yet waits
(pending_manager_ref) until a user it names is created or renamed; then every report
waiting for them is linked at once."""

from __future__ import annotations

from typing import Any

from django.db.models import F
from django.utils import timezone

from axero_idp import rawsql
from users import events
from users.models import User
from users.selectors import PROVISIONED_SOURCES
from users.services.actors import Actor
from users.services.audit import audit_record

# The WHERE matches the partial index on lower(pending_manager_ref) (migration 0003).
_WAITING = (
    "SELECT id FROM {table} WHERE pending_manager_ref <> '' "
    "AND lower(pending_manager_ref) = ANY(%s) AND id <> %s"
)


def _keys(manager: User) -> list[str] | None:
    """The references by which reports may wait for manager; None if none can: only
    identity providers leave references pending, and they never name a local account."""
    if manager.source not in PROVISIONED_SOURCES:
        return None
    keys = [str(manager.pk), manager.username.lower()]
    if manager.external_id:
        keys.append(manager.external_id.lower())
    if manager.email:
        keys.append(manager.email.lower())
    return keys


def reports_waiting(manager: User) -> list[Any]:
    """The ids of the users whose pending manager reference names manager."""
    keys = _keys(manager)
    if keys is None:
        return []
    # Written by hand, the probe costs 0.14 ms of CPU where the ORM's
    # annotate/exclude/filter cost 0.96 ms compiling the same SELECT
    # (bench/scim_create_bench.py).
    rows = rawsql.fetch_all(_WAITING.format(table=rawsql.table(User)), [keys, manager.pk])
    return [row[0] for row in rows]


def user_insert_finding_reports(user: User) -> list[Any]:
    """INSERT a new user; the ids of the reports already waiting for them.

    Every create of a provisioned user asks, and almost always finds no one, so the
    question rides in the INSERT's round trip: one statement, the INSERT as a
    data-modifying CTE (which PostgreSQL runs exactly once, whether or not the SELECT
    reads it; the SELECT sees the table as before it, which is all it asks). Against
    save() then the probe, one round trip and the ORM's compilation of a 34-column
    INSERT less: python 0.50 -> 0.31 ms and PostgreSQL 0.36 -> 0.33 ms of CPU per create
    (bench/rawsql_gains.py); over whole SCIM creates in-process, python 3.25 -> 3.02 ms
    and PostgreSQL 1.73 -> 1.67 ms (medians of 6 alternated runs of 600). The values
    are bound as the ORM binds them (rawsql.insert_of). Other creates have no one to
    find and save().
    """
    keys = _keys(user)
    if keys is None:
        user.save(force_insert=True)
        return []
    insert, params = rawsql.insert_of(user)
    waiting = _WAITING.format(table=rawsql.table(User))
    rows = rawsql.fetch_all(f"WITH created AS ({insert}) {waiting}", [*params, keys, user.pk])
    rawsql.saved(user)
    return [row[0] for row in rows]


def reports_link(*, manager: User, report_ids: list[Any], actor: Actor) -> list[str]:
    """Link the reports that were waiting for manager, audited and announced."""
    if not report_ids:
        return []
    User.objects.filter(pk__in=report_ids).update(
        manager=manager,
        pending_manager_ref="",
        version=F("version") + 1,
        updated_at=timezone.now(),
    )
    audit_record(
        actor=actor,
        action="user.manager_linked",
        target=manager,
        detail={"reports": [str(pk) for pk in report_ids]},
    )
    events.publish_on_commit(
        events.ManagerChanged(
            user_ids=frozenset(report_ids), manager_id=manager.pk, actor_kind=actor.kind
        )
    )
    return [str(pk) for pk in report_ids]
