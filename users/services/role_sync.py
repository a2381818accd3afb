"""Set-based sync of one source's roles for one user (a SAML login's role sync).

Same result, audit trail and events as `user_roles_sync`, at a cost that does not grow
with the number of roles that change: one query for the named roles, one for the
current memberships, one insert, one delete, one ordered lock and version bump, one audit insert.
`user_roles_sync` changes each role through role_members_add/remove (a lock, a lookup,
an insert, a version bump and an audit row per role), which a login storm pays for
every role a person gained or lost.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Lower
from django.utils import timezone

from axero_idp.request_id import current_request_id
from users import events
from users.models import AuditEvent, Role, RoleMembership, User
from users.services.actors import Actor
from users.services.roles import _clean_name, _role_get_or_create


@transaction.atomic
def user_roles_sync_bulk(
    *, user: User, role_names: Iterable[str], source: str, actor: Actor
) -> tuple[set[str], set[str]]:
    """Make the roles that source granted user exactly role_names (creating missing
    roles); other sources' memberships are left alone. Returns (added, removed) names."""
    names = {_clean_name(n) for n in role_names if isinstance(n, str) and n.strip()}
    by_lower = {n.lower(): n for n in names}
    roles: dict[str, Role] = {}
    if by_lower:
        found = Role.objects.annotate(lname=Lower("display_name")).filter(lname__in=by_lower)
        roles.update((r.display_name.lower(), r) for r in found)
    for lower in sorted(set(by_lower) - set(roles)):
        roles[lower] = _role_get_or_create(by_lower[lower], actor)
    wanted = {role.pk: role for role in roles.values()}
    current = {
        m.role_id: m.role
        for m in RoleMembership.objects.filter(user=user, source=source).select_related("role")
    }
    to_add = [wanted[pk] for pk in wanted.keys() - current.keys()]
    to_remove = [current[pk] for pk in current.keys() - wanted.keys()]
    if not to_add and not to_remove:
        return set(), set()
    now = timezone.now()
    if to_add:
        RoleMembership.objects.bulk_create(
            [RoleMembership(role=r, user=user, source=source, created_at=now) for r in to_add],
            ignore_conflicts=True,
        )
    if to_remove:
        RoleMembership.objects.filter(
            user=user, source=source, role_id__in=[r.pk for r in to_remove]
        ).delete()
    changed: list[uuid.UUID] = sorted(r.pk for r in (*to_add, *to_remove))
    # Lock in one global order, so two logins bumping the same roles cannot deadlock.
    list(Role.objects.select_for_update().filter(pk__in=changed).order_by("pk").values_list("pk"))
    Role.objects.filter(pk__in=changed).update(version=F("version") + 1, updated_at=now)
    detail = {"source": source, "count": 1, "user_ids": [str(user.pk)]}
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                created_at=now,
                actor_kind=actor.kind,
                actor_name=actor.name[:255],
                action=action,
                target_type="role",
                target_id=str(role.pk),
                detail=detail,
                request_id=current_request_id(),
            )
            for action, group in (
                ("role.members_added", to_add),
                ("role.members_removed", to_remove),
            )
            for role in group
        ]
    )
    for role in to_add:
        events.publish_on_commit(
            events.RoleMembersChanged(role_id=role.pk, added=frozenset({user.pk}))
        )
    for role in to_remove:
        events.publish_on_commit(
            events.RoleMembersChanged(role_id=role.pk, removed=frozenset({user.pk}))
        )
    return {r.display_name for r in to_add}, {r.display_name for r in to_remove}
