"""Audit records for memberships about to be deleted with their persona or space."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from axero_idp import rawsql
from personas import events as membership_events
from personas.models import Persona, Space, SpaceMembership
from users.services import Actor, audit_record_from_select

REMOVED = membership_events.REMOVED


def _announce(
    memberships: QuerySet[SpaceMembership], change: membership_events.MembershipChange
) -> None:
    """Hand the rows about to go to the membership sinks: one statement each."""
    sinks = membership_events.sinks()
    if not sinks:
        return
    ids_sql, ids_params = memberships.order_by().values("pk").query.sql_with_params()
    rows_sql = (
        "SELECT m.user_id, m.space_id, s.slug AS space_slug, p.slug AS persona_slug,"  # noqa: S608
        f" m.role, m.source FROM {rawsql.table(SpaceMembership)} m"
        f" JOIN {rawsql.table(Space)} s ON s.id = m.space_id"
        f" LEFT JOIN {rawsql.table(Persona)} p ON p.id = m.persona_id"
        f" WHERE m.id IN ({ids_sql})"
    )
    for sink in sinks:
        rawsql.execute(*sink.statement(change, rows_sql, list(ids_params)))


def audit_memberships_removed(*, memberships: QuerySet[SpaceMembership], actor: Actor) -> int:
    """One `space.member_removed` event per membership row (call before deleting them);
    returns how many: one INSERT ... SELECT, whatever their number (an admin deleting a
    space or persona: the per-member trail stays, the persona evaluation summarises)."""
    _announce(
        memberships,
        membership_events.MembershipChange(REMOVED, str(actor.kind), timezone.now()),
    )
    ids_sql, ids_params = memberships.order_by().values("pk").query.sql_with_params()
    rows_sql = (
        "SELECT 'user' AS target_type, m.user_id::text AS target_id,"  # noqa: S608
        # strip_nulls: a manual row has no persona, and says so by leaving it out.
        " jsonb_strip_nulls(jsonb_build_object('space', s.slug, 'persona', p.slug,"
        " 'source', m.source, 'role', m.role)) AS detail"
        f" FROM {rawsql.table(SpaceMembership)} m"
        f" JOIN {rawsql.table(Space)} s ON s.id = m.space_id"
        f" LEFT JOIN {rawsql.table(Persona)} p ON p.id = m.persona_id"
        f" WHERE m.id IN ({ids_sql})"
    )
    return audit_record_from_select(
        actor=actor, action=REMOVED, rows_sql=rows_sql, rows_params=list(ids_params)
    )
