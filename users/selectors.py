"""Reads of the directory. Query cost is decided here."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from django.conf import settings
from django.db import connection, transaction
from django.db.models import BooleanField, Count, ExpressionWrapper, Q, QuerySet

from axero_idp.rawsql import fetch_all, model_columns, model_from_row, table
from users.models import Connection, CustomField, Role, RoleMembership, Source, User
from users.search import PeopleSearchText

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
    # as callers that take the first match expect. Rows become instances through
    # model_from_row: 0.04 ms a call against 0.09-0.13 ms through objects.raw()
    # (in process, one definition).
    sql = (
        f"SELECT {model_columns(CustomField)} FROM {table(CustomField)} "  # noqa: S608
        f"ORDER BY {connection.ops.quote_name('key')}"
    )
    rows = fetch_all(sql)
    return {f.key: f for f in (model_from_row(CustomField, row) for row in rows)}


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
        # The connection too: a login linked by email reports which one provisioned it.
        User.objects.select_related("manager", "connection")
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


def profile_decided_by_scim(*, provisioned_by: str, connection_slug: str, scim_first: bool) -> bool:
    """Whether a connection's SCIM side, not its SAML logins, decides a person's profile
    and roles: where the connection gives SCIM precedence (scim_first) and its own SCIM
    token provisioned the person (provisioned_by: that connection's slug, or "")."""
    return scim_first and bool(provisioned_by) and provisioned_by == connection_slug


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
    return user, user_roles(user_id)


# --- The employee pages (portal/) ---------------------------------------------------

# The directory's order: the users_user_name_idx index (reports: users_user_reports_idx).
PEOPLE_ORDER: Final = ("last_name", "first_name", "id")
# A search with at most this many matches reads them all from the trigram index and
# sorts them; one with more walks the name index (see _few_matches).
SEARCH_FEW: Final = 500
TRIGRAM: Final = 3
PLANNER_SETTINGS: Final = ("enable_bitmapscan", "enable_indexscan", "enable_seqscan")
# The manager chain stops here even if the data loops (a cycle the directory allowed).
MANAGER_CHAIN_DEPTH: Final = 32


def search_terms(query: str) -> list[str]:
    """The words of a search, lower-cased (every one must match), at most five."""
    return [word.lower() for word in query.split()][:5]


def people_search(query: str, *, offset: int, limit: int) -> tuple[list[User], bool]:
    """One page of active people whose name, email, title or department contains every
    word of the query (everyone, when none), in directory order; and whether more
    follow. Two queries, whatever the words (see _few_matches); one without words."""
    active = User.objects.filter(is_active=True)
    terms = search_terms(query)
    people = _matching(active, terms)
    # SET LOCAL ends with the transaction; inside a caller's, it is undone below.
    nested = connection.in_atomic_block
    with transaction.atomic():
        # Only words of TRIGRAM characters or more narrow a search through the trigram
        # index: a shorter one would read the whole index (40 ms).
        narrowing = [term for term in terms if len(term) >= TRIGRAM]
        few = _few_matches(_matching(active, narrowing)) if narrowing else None
        if few is not None:
            people = people.filter(pk__in=few)
        _planner_set(enable_bitmapscan="off", enable_indexscan="on", enable_seqscan="on")
        rows = list(people.order_by(*PEOPLE_ORDER)[offset : offset + limit + 1])
        if nested:
            _planner_set(**dict.fromkeys(PLANNER_SETTINGS, "DEFAULT"))
    return rows[:limit], len(rows) > limit


def _matching(people: QuerySet[User], terms: list[str]) -> QuerySet[User]:
    """people whose search text contains every term."""
    if not terms:
        return people
    people = people.annotate(search=PeopleSearchText())
    for term in terms:
        people = people.filter(search__contains=term)
    return people


def _few_matches(people: QuerySet[User]) -> list[uuid.UUID] | None:
    """The ids of every match when there are at most SEARCH_FEW; else None.

    PostgreSQL estimates each word's matches alone and so misjudges a rare combination
    of common words ("sales ines"): it walks the name index for 26 matches that do not
    exist, 228 ms at 100,000 people. So the matches are first read from the trigram
    index (2-9 ms, stopping after SEARCH_FEW + 1); only a search with more matches than
    that walks the name index, where they are dense enough to be found early
    (BENCHMARKS.md)."""
    _planner_set(enable_indexscan="off", enable_seqscan="off")
    ids = list(people.order_by().values_list("pk", flat=True)[: SEARCH_FEW + 1])
    return ids if len(ids) <= SEARCH_FEW else None


def _planner_set(**settings: str) -> None:
    """Planner settings for the rest of the caller's transaction."""
    with connection.cursor() as cursor:
        cursor.execute("; ".join(f"SET LOCAL {name} = {value}" for name, value in settings.items()))


def manager_chain(user: User) -> list[User]:
    """The user's managers, nearest first, up to the top: one recursive query, bounded
    by MANAGER_CHAIN_DEPTH (issue 13: the same cost for a new hire and the CEO). Raw
    SQL: the ORM has no recursive CTE; it replaces one query per level (up to 32)."""
    if user.manager_id is None:
        return []
    users = table(User)
    sql = (
        f"WITH RECURSIVE chain (id, depth) AS ("  # noqa: S608
        f" SELECT manager_id, 1 FROM {users} WHERE id = %s AND manager_id IS NOT NULL"
        f" UNION ALL SELECT u.manager_id, c.depth + 1 FROM {users} u JOIN chain c ON u.id = c.id"
        f" WHERE u.manager_id IS NOT NULL AND c.depth < %s)"
        f" SELECT {model_columns(User, 'u')} FROM chain c JOIN {users} u ON u.id = c.id"
        f" ORDER BY c.depth"
    )
    seen: set[uuid.UUID] = {user.pk}
    chain = []
    key = User._meta.pk.get_db_prep_value(user.pk, connection)  # type: ignore[union-attr]
    for manager in User.objects.raw(sql, [key, MANAGER_CHAIN_DEPTH]):
        if manager.pk in seen:  # a cycle: show each person once
            break
        seen.add(manager.pk)
        chain.append(manager)
    return chain


def direct_reports(manager_id: uuid.UUID, *, limit: int) -> tuple[list[User], int]:
    """The first `limit` active direct reports in directory order, and how many there
    are in all: two index range reads (users_user_reports_idx), whatever the team size."""
    reports = User.objects.filter(manager_id=manager_id, is_active=True)
    shown = list(reports.order_by(*PEOPLE_ORDER)[: limit + 1])
    if len(shown) <= limit:
        return shown, len(shown)
    return shown[:limit], reports.count()


def direct_reports_page(
    manager_id: uuid.UUID, *, offset: int, limit: int
) -> tuple[list[User], bool]:
    """One page of a manager's active direct reports in directory order, and whether
    more follow: an index range read (users_user_reports_idx)."""
    reports = User.objects.filter(manager_id=manager_id, is_active=True)
    rows = list(reports.order_by(*PEOPLE_ORDER)[offset : offset + limit + 1])
    return rows[:limit], len(rows) > limit


def public_custom_fields(user: User) -> list[tuple[str, Any]]:
    """(label, value) of the custom fields the admin marked public that the user has a
    value for, in key order: one query."""
    values = user.custom or {}
    return [
        (field.label, values[field.key])
        for field in CustomField.objects.filter(public=True).order_by("key")
        if values.get(field.key) not in (None, "", [])
    ]


def user_roles(user_id: uuid.UUID) -> list[str]:
    """The names of the user's roles, sorted: one query."""
    return sorted(
        Role.objects.filter(memberships__user_id=user_id)
        .values_list("display_name", flat=True)
        .distinct()
    )


def user_role_names(user: User, *, source: str) -> list[str]:
    """The names of the roles source granted user (a test login's "would remove")."""
    return sorted(
        RoleMembership.objects.filter(user=user, source=source).values_list(
            "role__display_name", flat=True
        )
    )


def username_taken(username: str) -> bool:
    return User.objects.filter(username__ci=username).exists()
