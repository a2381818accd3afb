"""Reads of the directory. Query cost is decided here."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping

from django.conf import settings
from django.db import connection
from django.db.models import Count, QuerySet

from axero_idp.rawsql import model_columns, table
from users.models import CustomField, Role, User


def user_get(user_id: uuid.UUID | str) -> User | None:
    """The user with this id, or None (also for text that is not a UUID)."""
    try:
        key = uuid.UUID(str(user_id))
    except ValueError:
        return None
    return User.objects.filter(pk=key).first()


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


def user_by_email(email: str) -> User | None:
    """The account an email names: the oldest one with it (emails are not unique),
    compared case-insensitively through the lower(email) index; its manager comes along."""
    return (
        User.objects.select_related("manager")
        .filter(email__ci=email)
        .order_by("created_at")
        .first()
    )


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
