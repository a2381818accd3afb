"""Whose login is this: the account an assertion's NameID names, or the one it may be
linked to. users.selectors decides which accounts may be linked; sso/ only knows its
identities (which NameID each IdP uses for whom)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils import timezone

from sso.models import IdentityProvider, SamlIdentity
from sso.refusals import RefusalReason, SamlRefused
from users.models import User
from users.selectors import user_for_connection_link, user_for_email_link
from users.services import ManagerKeys
from users.services.logins import LAST_LOGIN_PRECISION


@dataclass(frozen=True)
class FoundAccount:
    user: User | None
    linked_by: str = ""  # "name_id" | "connection" | "email" | ""
    has_identity: bool = False
    # The slug of the connection whose SCIM token provisioned the user ("" for none).
    connection_slug: str = ""
    # Whether the identity's last_login_at is within LAST_LOGIN_PRECISION already.
    identity_login_recent: bool = False
    # The manager's keys, read with the user (users.services.manager_ref_is_current).
    manager: ManagerKeys = field(default_factory=lambda: ManagerKeys(id=None))


def account_find(idp: IdentityProvider, name_id: str, email: str | None) -> FoundAccount:
    """The account this NameID names at idp, else the one its connection's SCIM side
    provisioned under it, else (where allowed) the one its email may be linked to."""
    by_name_id = _found_by_name_id(idp, name_id)
    if by_name_id.user is not None:
        return by_name_id
    in_connection = _found_in_connection(idp, name_id)
    if in_connection.user is not None:
        return in_connection
    if idp.link_by_email and email:
        return _found_by_email(idp, email)
    return FoundAccount(user=None)


def _found_by_name_id(idp: IdentityProvider, name_id: str) -> FoundAccount:
    # Every login starts here: one query for the identity, its user, the user's manager
    # (the keys a manager attribute is compared with) and connection, by the
    # (idp, name_id) unique index.
    identity = (
        SamlIdentity.objects.select_related("user__manager", "user__connection")
        .filter(idp=idp, name_id=name_id)
        .first()
    )
    if identity is None:
        return FoundAccount(user=None)
    user = identity.user
    recent_since = timezone.now() - LAST_LOGIN_PRECISION
    return FoundAccount(
        user=user,
        linked_by="name_id",
        has_identity=True,
        identity_login_recent=identity.last_login_at is not None
        and identity.last_login_at > recent_since,
        connection_slug=user.connection.slug if user.connection is not None else "",
        manager=_manager_keys(user.manager),
    )


def _manager_keys(manager: User | None) -> ManagerKeys:
    if manager is None:
        return ManagerKeys(id=None)
    return ManagerKeys(
        id=manager.pk,
        email=manager.email,
        username=manager.username,
        external_id=manager.external_id or "",
    )


def _found_in_connection(idp: IdentityProvider, name_id: str) -> FoundAccount:
    # The usual set-up: one application provisions (SCIM, a token bound to this IdP)
    # and signs in (SAML). Its first login links the person its SCIM side created.
    user = user_for_connection_link(
        connection_slug=idp.slug,
        link_key=idp.link_key,
        name_id=name_id,
        linked_here=SamlIdentity.objects.filter(idp=idp).values("user_id"),
    )
    if user is None:
        return FoundAccount(user=None)
    return FoundAccount(
        user=user,
        linked_by="connection",
        connection_slug=idp.slug,
        manager=_manager_keys(user.manager),
    )


def _found_by_email(idp: IdentityProvider, email: str) -> FoundAccount:
    # users/ decides which accounts may be linked; sso/ only knows whose they are.
    link = user_for_email_link(
        email, claimed_elsewhere=SamlIdentity.objects.exclude(idp=idp).values("user_id")
    )
    if link.refused:
        raise SamlRefused(
            RefusalReason.EMAIL_LINK_REFUSED,
            f"the email names no account {idp.slug} may be linked to: {link.refused}",
        )
    user = link.user
    if user is None:
        return FoundAccount(user=None)
    return FoundAccount(
        user=user,
        linked_by="email",
        connection_slug=user.connection.slug if user.connection is not None else "",
        manager=_manager_keys(user.manager),
    )
