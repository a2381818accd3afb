"""Reads of the directory. Query cost is decided here."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from django.conf import settings
from django.db import connection
from django.db.models import BooleanField, Count, ExpressionWrapper, Q, QuerySet

from axero_idp.rawsql import model_columns, table
from users.models import Connection, CustomField, Role, RoleMembership, Source, User

# Accounts an identity provider created and manages. Every other account is local
# (ensure_admin, createsuperuser, added in admin): no identity provider may see,
# change or claim it.
PROVISIONED_SOURCES: Final = (Source.SCIM, Source.SAML)
# More accounts than this sharing one email is not a directory, it is a mistake.
_EMAIL_LINK_CANDIDATES: Final = 20


def user_get(user_id: uuid.UUID | str) -> User | None:
    """The user with this id, or None (also for text that is not a UUID)."""
    try:
        key = uuid.UUID(str(user_id))
    except ValueError:
        return None
    return User.objects.filter(pk=key).first()


def users_provisioned() -> QuerySet[User]:
    """The accounts identity providers manage: all SCIM may see. A local account is,
    to an identity provider, no account at all (issue 8, finding 4)."""
    return User.objects.filter(source__in=PROVISIONED_SOURCES)


def provisioned_user_get(user_id: uuid.UUID | str) -> User | None:
    """The provisioned user with this id, or None (also for a local account)."""
    try:
        key = uuid.UUID(str(user_id))
    except ValueError:
        return None
    return users_provisioned().filter(pk=key).first()


def role_get(role_id: uuid.UUID | str) -> Role | None:
    """The role with this id, or None (also for text that is not a UUID)."""
    try:
        key = uuid.UUID(str(role_id))
    except ValueError:
        return None
    return Role.objects.filter(pk=key).first()


def roles_with_member_count() -> QuerySet[Role]:
    return Role.objects.annotate(member_count=Count("memberships__user", distinct=True))


def custom_fields_by_key() -> dict[str, CustomField]:
    # Every SAML login and most SCIM writes read the definitions: a raw query, which
    # Django does not have to compile (a third of the ORM's cost here); ordered by key,
    # as callers that take the first match expect.
    sql = (
        f"SELECT {model_columns(CustomField)} FROM {table(CustomField)} "  # noqa: S608
        f"ORDER BY {connection.ops.quote_name('key')}"
    )
    return {f.key: f for f in CustomField.objects.raw(sql)}


class LazyCustomFields(Mapping[str, CustomField]):
    """The custom field definitions, read from the database on first use only: most
    requests never name a custom field and should not pay for the query."""

    def __init__(self) -> None:
        self._fields: dict[str, CustomField] | None = None

    def _load(self) -> dict[str, CustomField]:
        if self._fields is None:
            self._fields = custom_fields_by_key()
        return self._fields

    def __getitem__(self, key: str) -> CustomField:
        return self._load()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())


# --- The logged-in user's own profile (/api/v1/me/) ---------------------------------


def user_by_email(email: str, *, among: QuerySet[User] | None = None) -> User | None:
    """The account an email names: the oldest one with it (emails are not unique),
    compared case-insensitively through the lower(email) index; its manager comes along.
    among: the accounts to look in (all of them by default)."""
    return (
        (User.objects.all() if among is None else among)
        .select_related("manager")
        .filter(email__ci=email)
        .order_by("created_at")
        .first()
    )


@dataclass(frozen=True)
class EmailLink:
    """Which account a first SAML login may be linked to by its email."""

    user: User | None
    # Why the accounts with this email may not be linked ("" when none has it).
    refused: str = ""


def _email_link_refusal(user: Any) -> str:
    # Linking hands the account to whoever controls the email attribute at the IdP:
    # never an account with admin rights, one no IdP owns, or one another IdP owns.
    if user.is_superuser:
        return "is a superuser"
    if user.is_staff:
        return "is staff"
    if user.source not in PROVISIONED_SOURCES:
        return "is a local account"
    if user.claimed_elsewhere:
        return "is linked to another identity provider"
    return ""


def user_for_email_link(email: str, *, claimed_elsewhere: QuerySet[Any, Any]) -> EmailLink:
    """The account a first login with this email may be linked to: the oldest that
    may be linked (finding 3 of issue 8). claimed_elsewhere: the ids of accounts
    another identity provider's logins own (the caller knows its identities)."""
    candidates = list(
        User.objects.select_related("manager")
        .filter(email__ci=email)
        .annotate(
            claimed_elsewhere=ExpressionWrapper(
                Q(pk__in=claimed_elsewhere), output_field=BooleanField()
            )
        )
        .order_by("created_at")[:_EMAIL_LINK_CANDIDATES]
    )
    refusals = []
    for user in candidates:
        reason = _email_link_refusal(user)
        if not reason:
            return EmailLink(user=user)
        refusals.append(f"account {user.pk} {reason}")
    return EmailLink(user=None, refused="; ".join(refusals))


def connection_get(slug: str) -> Connection | None:
    return Connection.objects.filter(slug=slug).first()


# How a connection's SAML login names its SCIM-provisioned users (IdentityProvider.link_key):
# the User field the NameID is compared with, and whether the directory ignores case there.
LINK_KEYS: Final[Mapping[str, tuple[str, bool]]] = {
    "userName": ("username", True),
    "email": ("email", True),
    "externalId": ("external_id", False),
}


def user_for_connection_link(
    *, connection_slug: str, link_key: str, name_id: str, linked_here: QuerySet[Any, Any]
) -> User | None:
    """The user a connection's first SAML login with this NameID is: one its SCIM side
    provisioned whose link_key value equals the NameID (case-insensitively where the
    directory is), not already linked under another NameID (linked_here: the ids the
    connection's logins own). None when there is no such user or more than one."""
    field, ignore_case = LINK_KEYS[link_key]
    lookup = f"{field}__ci" if ignore_case else field
    candidates = list(
        User.objects.select_related("manager")
        .filter(connection__slug=connection_slug, **{lookup: name_id})
        .exclude(pk__in=linked_here)
        .exclude(source=Source.ADMIN)[:2]
    )
    return candidates[0] if len(candidates) == 1 else None


def user_image_url(user_id: object, version: str | None) -> str | None:
    """Where a user's stored profile image is served (the image API), with its version,
    so a browser may cache each URL for good; None when there is no image."""
    if not version:
        return None
    return f"{settings.SITE_URL}/api/v1/users/{user_id}/image/?v={version}"


def user_profile(user_id: uuid.UUID) -> tuple[User, list[str]] | None:
    """A user with their manager, and the names of their roles: two queries."""
    user = User.objects.select_related("manager").filter(pk=user_id).first()
    if user is None:
        return None
    roles = sorted(
        Role.objects.filter(memberships__user_id=user_id)
        .values_list("display_name", flat=True)
        .distinct()
    )
    return user, roles


def user_role_names(user: User, *, source: str) -> list[str]:
    """The names of the roles source granted user (a test login's "would remove")."""
    return sorted(
        RoleMembership.objects.filter(user=user, source=source).values_list(
            "role__display_name", flat=True
        )
    )


def username_taken(username: str) -> bool:
    return User.objects.filter(username__ci=username).exists()
