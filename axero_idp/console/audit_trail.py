"""Reads for the audit trail page: what each event is about (names and admin links,
resolved in one query per kind of target for a whole page), search by person, and
the action families the page filters on.

The trail stores a target as (type, id) only: names change and people are deleted,
and the record must stay as written. Names are looked up when the page is read; a
target that no longer exists shows its stored id.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

from django.db.models import CharField, Model, Q, QuerySet
from django.db.models.functions import Cast
from django.urls import NoReverseMatch, reverse

from events.models import EventsToken, WebhookEndpoint
from personas.models import Persona, Space
from scim.models import ScimToken
from sso.models import IdentityProvider
from users.models import ActorKind, AuditEvent, Connection, CustomField, Role, SetupLink, User


@dataclass(frozen=True)
class Target:
    label: str
    url: str | None = None


def person_label(user: User) -> str:
    """How the trail names a person: the name people know, and the email to tell
    two of the same name apart."""
    name = user.get_full_name()
    return f"{name} <{user.email}>" if user.email and user.email != name else name


@dataclass(frozen=True)
class _Kind:
    """How one target_type is looked up: by which column, named how, linked where."""

    model: type[Model]
    column: str
    label: Callable[[Any], str]
    related: tuple[str, ...] = ()

    def found(self, ids: set[str]) -> dict[str, Model]:
        rows = self.model._default_manager.select_related(*self.related)  # type: ignore[attr-defined]
        if self.column == "pk":
            rows = rows.annotate(_key=Cast("pk", CharField())).filter(_key__in=ids)
            return {row._key: row for row in rows}
        return {
            str(getattr(row, self.column)): row
            for row in rows.filter(**{f"{self.column}__in": ids})
        }


def _admin_url(obj: Model) -> str | None:
    if isinstance(obj, SetupLink):
        obj = obj.connection
    opts = obj._meta
    try:
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return None


_KINDS: Final[dict[str, _Kind]] = {
    "user": _Kind(User, "pk", person_label),
    # The image pipeline records against the person whose photo it is.
    "profileimage": _Kind(User, "pk", lambda u: f"photo of {person_label(u)}"),
    "role": _Kind(Role, "pk", lambda r: f"role {r.display_name}"),
    "persona": _Kind(Persona, "pk", lambda p: f"persona {p.name}"),
    "space": _Kind(Space, "pk", lambda s: f"space {s.name}"),
    "connection": _Kind(Connection, "pk", lambda c: f"connection {c.slug}"),
    "customfield": _Kind(CustomField, "key", lambda f: f"custom field {f.label}"),
    "scimtoken": _Kind(ScimToken, "pk", lambda t: f"SCIM token {t.name}"),
    "eventstoken": _Kind(EventsToken, "pk", lambda t: f"events token {t.name}"),
    "webhook": _Kind(WebhookEndpoint, "pk", lambda w: f"webhook {w.url}"),
    "setuplink": _Kind(
        SetupLink,
        "pk",
        lambda s: f"setup link {s.prefix}… for {s.connection.slug}",
        related=("connection",),
    ),
}


# What the target type filter offers: every type the trail names, and the IdP.
AUDIT_TARGET_TYPES: Final = tuple(sorted({*_KINDS, "identityprovider"}))


def _identity_providers(ids: set[str]) -> dict[str, Model]:
    # Refusals name an IdP by its slug (the login may have named one that does not
    # exist); its own changes by its primary key.
    numeric = {int(i) for i in ids if i.isdigit()}
    found: dict[str, Model] = {}
    for idp in IdentityProvider.objects.filter(Q(slug__in=ids) | Q(pk__in=numeric)):
        found[idp.slug] = idp
        found[str(idp.pk)] = idp
    return found


def audit_targets(events: Iterable[AuditEvent]) -> dict[tuple[str, str], Target]:
    """Name and link the targets of these events: one query per target type present."""
    wanted: dict[str, set[str]] = defaultdict(set)
    for event in events:
        if event.target_id:
            wanted[event.target_type].add(event.target_id)
    targets: dict[tuple[str, str], Target] = {}
    for target_type, ids in wanted.items():
        if target_type == "identityprovider":
            found, label = _identity_providers(ids), (lambda i: f"identity provider {i.slug}")
        elif target_type in _KINDS:
            kind = _KINDS[target_type]
            found, label = kind.found(ids), kind.label
        else:
            continue
        for key, obj in found.items():
            if key in ids:
                targets[(target_type, key)] = Target(label(obj), _admin_url(obj))
    return targets


# --- search ---------------------------------------------------------------------------

_PERSON_FIELDS: Final = ("username", "email", "display_name", "first_name", "last_name")


def _people_matching(term: str) -> QuerySet[User]:
    """Everyone each word of the term names (in any of their name fields or email)."""
    people = User.objects.all()
    for word in term.split():
        people = people.filter(
            Q.create([(f"{name}__icontains", word) for name in _PERSON_FIELDS], connector=Q.OR)
        )
    return people


def _named(model: type[Model], field: str, term: str) -> QuerySet[Any]:
    rows = model._default_manager.filter(**{f"{field}__icontains": term})  # type: ignore[attr-defined]
    return rows.annotate(_key=Cast("pk", CharField())).values("_key")


def audit_search(events: QuerySet[AuditEvent], term: str) -> QuerySet[AuditEvent]:
    """Events about, or by, what the term names: a person (name, user name or email),
    a role, persona, space or connection by name; or an exact id, request id or action."""
    term = term.strip()
    if not term:
        return events
    people = _people_matching(term)
    about = (
        Q(target_id=term)
        | Q(request_id=term)
        | Q(action=term)
        | Q(actor_name__icontains=term)
        | Q(actor_name__in=people.values("username"))
        | Q(
            target_type__in=("user", "profileimage"),
            target_id__in=people.annotate(_key=Cast("pk", CharField())).values("_key"),
        )
        | Q(target_type="role", target_id__in=_named(Role, "display_name", term))
        | Q(target_type="persona", target_id__in=_named(Persona, "name", term))
        | Q(target_type="space", target_id__in=_named(Space, "name", term))
        | Q(target_type="connection", target_id__in=_named(Connection, "slug", term))
        | Q(target_type="identityprovider", target_id__icontains=term)
    )
    return events.filter(about)


# --- action families ------------------------------------------------------------------

_REFUSED: Final = Q(action__endswith="_refused") | Q(action__endswith="_failed")
_BY_IDENTITY_PROVIDER: Final = Q(actor_kind__in=(ActorKind.SCIM, ActorKind.IDP))


def _prefixes(*prefixes: str) -> Q:
    return Q.create([("action__startswith", prefix) for prefix in prefixes], connector=Q.OR)


# (key, label, which events): derived from the action names, which are `<what>.<verb>`.
AUDIT_FAMILIES: Final[tuple[tuple[str, str, Q], ...]] = (
    (
        "sign_in",
        "Sign-in and sign-out",
        (_prefixes("saml.") & ~_REFUSED) | Q(action="user.signed_out_everywhere"),
    ),
    ("refusals", "Security refusals and failures", _REFUSED),
    (
        "provisioning",
        "Provisioning (SCIM and SAML)",
        _BY_IDENTITY_PROVIDER & _prefixes("user.", "role.") & ~_REFUSED,
    ),
    (
        "people",
        "People (accounts, access, status)",
        _prefixes("user.") & ~_REFUSED & ~Q(action="user.signed_out_everywhere"),
    ),
    ("roles", "Roles", _prefixes("role.")),
    ("personas", "Personas and spaces", _prefixes("persona.", "space.")),
    (
        "connections",
        "Connections and identity providers",
        _prefixes("connection.", "sso.", "setup_link."),
    ),
    ("tokens", "Tokens and webhooks", _prefixes("scim_token.", "events_token.", "webhook.")),
    ("custom_fields", "Custom fields", _prefixes("custom_field.")),
    ("images", "Profile images", _prefixes("image.")),
    ("admin_changes", "Admin changes", Q(actor_kind__in=(ActorKind.ADMIN, ActorKind.SETUP_LINK))),
)
