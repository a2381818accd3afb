"""What the user change page leads with: status (and who deactivated the account, and
why), photo, roles with where each came from, and recent sign-ins. Read from the
directory's own tables; spaces (personas/) are added by axero_idp.console.user_page."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Final

from django.urls import reverse

from users.models import AuditEvent, MembershipSource, RoleMembership, User
from users.selectors import user_image_url

RECENT_SIGN_INS: Final = 10


@dataclass(frozen=True)
class Deactivation:
    at: dt.datetime | None
    by: str
    reason: str


@dataclass(frozen=True)
class RoleLine:
    name: str
    url: str
    sources: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SignIn:
    at: dt.datetime
    idp: str
    note: str


def membership_source_label(source: str) -> str:
    """How a role came to the person: their identity provider's SCIM push, a SAML
    login's role attribute, or an admin's hand."""
    if source == MembershipSource.SCIM:
        return "SCIM"
    if source == MembershipSource.MANUAL:
        return "admin"
    if source.startswith("saml:"):
        return f"SAML ({source.removeprefix('saml:')})"
    return source


def user_deactivation(user: User) -> Deactivation | None:
    """Who deactivated the account and why (the trail's last record of it)."""
    if user.is_active:
        return None
    event = (
        AuditEvent.objects.filter(target_type="user", target_id=str(user.pk))
        .filter(action="user.deactivated")
        .order_by("-created_at", "-id")
        .first()
    )
    if event is None:  # deactivated before the trail kept reasons
        return Deactivation(at=user.deactivated_at, by=user.get_deactivated_by_display(), reason="")
    by = f"{event.get_actor_kind_display()} {event.actor_name}"
    return Deactivation(at=user.deactivated_at, by=by, reason=str(event.detail.get("reason", "")))


def user_roles_with_sources(user: User) -> list[RoleLine]:
    rows = (
        RoleMembership.objects.filter(user=user)
        .select_related("role")
        .order_by("role__display_name", "source")
    )
    sources: dict[Any, list[str]] = defaultdict(list)
    roles = {}
    for row in rows:
        roles[row.role_id] = row.role
        sources[row.role_id].append(membership_source_label(row.source))
    return [
        RoleLine(
            name=role.display_name,
            url=reverse("admin:users_role_change", args=[role.pk]),
            sources=sources[pk],
        )
        for pk, role in roles.items()
    ]


def user_recent_sign_ins(user: User, limit: int = RECENT_SIGN_INS) -> list[SignIn]:
    events = AuditEvent.objects.filter(
        target_type="user", target_id=str(user.pk), action="saml.login"
    ).order_by("-created_at", "-id")[:limit]
    return [
        SignIn(at=e.created_at, idp=str(e.detail.get("idp", "")), note=_note(e)) for e in events
    ]


def _note(event: AuditEvent) -> str:
    if event.detail.get("created"):
        return "account created at this sign-in"
    if event.detail.get("linked_by"):
        return f"linked by {event.detail['linked_by']}"
    return ""


def user_page_context(user: User) -> dict[str, Any]:
    """Everything the page shows above the form."""
    return {
        "subject": user,
        "deactivation": user_deactivation(user),
        "photo_url": user_image_url(user.pk, user.image_version),
        "roles": user_roles_with_sources(user),
        "sign_ins": user_recent_sign_ins(user),
    }
