"""Audit records for memberships about to be deleted with their persona or space."""

from __future__ import annotations

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from axero_idp.request_id import current_request_id
from personas import events as membership_events
from personas.models import Persona, Space, SpaceMembership
from users.models import AuditEvent
from users.services import Actor

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
        f" m.role, m.source FROM {SpaceMembership._meta.db_table} m"
        f" JOIN {Space._meta.db_table} s ON s.id = m.space_id"
        f" LEFT JOIN {Persona._meta.db_table} p ON p.id = m.persona_id"
        f" WHERE m.id IN ({ids_sql})"
    )
    with connection.cursor() as cursor:
        for sink in sinks:
            cursor.execute(*sink.statement(change, rows_sql, list(ids_params)))


def audit_memberships_removed(*, memberships: QuerySet[SpaceMembership], actor: Actor) -> int:
    """One `space.member_removed` event per membership row (call before deleting them);
    returns how many: one INSERT ... SELECT, whatever their number."""
    now, request_id = timezone.now(), current_request_id()
    _announce(memberships, membership_events.MembershipChange(REMOVED, str(actor.kind), now))
    rows_sql, rows_params = memberships.order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {AuditEvent._meta.db_table} (created_at, actor_kind, actor_name,"  # noqa: S608
            " action, target_type, target_id, detail, request_id)"
            " SELECT %s, %s, %s, 'space.member_removed', 'user', m.user_id::text,"
            # strip_nulls: a manual row has no persona, and says so by leaving it out.
            " jsonb_strip_nulls(jsonb_build_object('space', s.slug, 'persona', p.slug,"
            " 'source', m.source, 'role', m.role)), %s"
            f" FROM {SpaceMembership._meta.db_table} m"
            f" JOIN {Space._meta.db_table} s ON s.id = m.space_id"
            f" LEFT JOIN {Persona._meta.db_table} p ON p.id = m.persona_id"
            f" WHERE m.id IN ({rows_sql})",
            [now, actor.kind, actor.name[:255], request_id, *rows_params],
        )
        return int(cursor.rowcount)
