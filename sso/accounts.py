"""Whose login is this: the account an assertion's NameID names, or the one it may be
linked to. users.selectors decides which accounts may be linked; sso/ only knows its
identities (which NameID each IdP uses for whom)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from django.utils import timezone

from axero_idp.rawsql import fetch_all, model_columns, model_from_row, table
from sso.models import IdentityProvider, SamlIdentity
from sso.refusals import RefusalReason, SamlRefused
from users.models import Connection, User
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


# identity_login_recent, the manager's email, username and external id, the connection.
_EXTRA_COLUMNS = 5


@functools.cache
def _by_name_id_sql() -> str:
    return (
        f"SELECT {model_columns(User, 'u')}, "  # noqa: S608
        "CASE WHEN si.last_login_at > %s THEN 1 ELSE 0 END AS identity_login_recent, "
        "mgr.email AS manager_email, mgr.username AS manager_username, "
        "mgr.external_id AS manager_external_id, conn.slug AS connection_slug "
        f"FROM {table(SamlIdentity)} si "
        f"JOIN {table(User)} u ON u.id = si.user_id "
        f"LEFT JOIN {table(User)} mgr ON mgr.id = u.manager_id "
        f"LEFT JOIN {table(Connection)} conn ON conn.id = u.connection_id "
        "WHERE si.idp_id = %s AND si.name_id = %s"
    )


def _found_by_name_id(idp: IdentityProvider, name_id: str) -> FoundAccount:
    # Every login starts here: the user, the identity's last login, the manager's keys
    # and the connection in one statement by the (idp, name_id) unique index. Written
    # by hand although the ORM needs no more round trips (select_related does the same
    # joins): building three related models costs more than the query. Measured with
    # bench/sso_rawsql_gains.py (1,000 calls each, real PostgreSQL, a shared
    # 2-core machine): 0.75 ms against 4.8 ms for the ORM (10th percentile), the SQL
    # alone 0.45 ms. One statement: tests/sso/test_unit_rawsql.py.
    # The row becomes a User by rawsql.model_from_row (0.19 ms against 0.35 ms through
    # objects.raw(), in process); the columns after the user's are the extras.
    recent_since = timezone.now() - LAST_LOGIN_PRECISION
    rows = fetch_all(_by_name_id_sql(), [recent_since, idp.pk, name_id])
    if not rows:
        return FoundAccount(user=None)
    user = model_from_row(User, rows[0])
    recent, manager_email, manager_username, manager_external_id, connection_slug = rows[0][
        -_EXTRA_COLUMNS:
    ]
    return FoundAccount(
        user=user,
        linked_by="name_id",
        has_identity=True,
        identity_login_recent=bool(recent),
        connection_slug=connection_slug or "",
        manager=ManagerKeys(
            id=user.manager_id,
            email=manager_email or "",
            username=manager_username or "",
            external_id=manager_external_id or "",
        ),
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
        manager=ManagerKeys.of(user.manager),
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
        manager=ManagerKeys.of(user.manager),
    )
