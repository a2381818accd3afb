"""An admin's test login (dry run): a real, fully validated SP-initiated login whose
answer is shown to the admin instead of applied. It reads what a login would do (the
same profile reading and account finding as sso.provisioning) and writes nothing but
its audit event: no user, identity, session, membership or persona changes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from axero_idp.errors import ApplicationError
from sso.accounts import FoundAccount, account_find
from sso.inbound import ValidLogin
from sso.mapping import MappedProfile
from sso.models import IdentityProvider
from sso.provisioning import (
    MAX_ROLE_NAME,
    login_profile_read,
    scim_decides_for,
    unmapped_names,
    username_for,
)
from sso.refusals import RefusalReason, SamlRefused
from users.models import MembershipSource, SetupLink, User
from users.selectors import user_role_names, username_taken
from users.services import Actor, audit_record
from users.services.setup_links import setup_link_actor
from users.services.values import attributes_differ

# Who started a test login (OutstandingRequest.dry_run_by): "admin:<username>" or
# "setup-link:<the link's id>".
ADMIN_STARTER = "admin:"
SETUP_LINK_STARTER = "setup-link:"


def dry_run_actor(started_by: str) -> Actor:
    """Who a test login's events are recorded for: the admin, or the setup link."""
    if started_by.startswith(SETUP_LINK_STARTER):
        link = (
            SetupLink.objects.select_related("connection")
            .filter(pk=int(started_by[len(SETUP_LINK_STARTER) :] or 0))
            .first()
        )
        if link is not None:
            return setup_link_actor(link)
    return Actor.admin(started_by.removeprefix(ADMIN_STARTER))


@dataclass(frozen=True)
class AttributeRow:
    name: str
    values: list[str]
    maps_to: list[str]  # product fields this attribute sets; empty: not used


@dataclass
class LoginPreview:
    idp_slug: str
    name_id: str
    name_id_format: str
    attributes: list[AttributeRow] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    ignored: dict[str, str] = field(default_factory=dict)
    account: str = ""  # "sign_in" | "link" | "create" | "" (refused)
    linked_by: str = ""
    user: User | None = None
    username: str = ""
    changes: dict[str, Any] = field(default_factory=dict)
    scim_decides: bool = False
    roles_added: list[str] = field(default_factory=list)
    roles_removed: list[str] = field(default_factory=list)
    refusal_reason: str = ""
    refusal_message: str = ""
    started_by: str = ""

    @property
    def refusal_hint(self) -> str:
        return RefusalReason.of(self.refusal_reason).admin_hint if self.refusal_reason else ""

    @property
    def outcome(self) -> str:
        return f"refused: {self.refusal_reason}" if self.refusal_reason else self.account


def attribute_rows(
    attributes: Mapping[str, Sequence[Any]], attribute_map: Mapping[str, Sequence[str]]
) -> list[AttributeRow]:
    """Each received attribute with the product fields it sets (the first name of a
    field's list that the assertion carries wins, sso.mapping.first_present)."""
    used: dict[str, list[str]] = {}
    for key, names in attribute_map.items():
        winner = next((name for name in names if name in attributes), None)
        if winner is not None:
            used.setdefault(winner, []).append(key)
    return [
        AttributeRow(name, [str(v) for v in values], used.get(name, []))
        for name, values in attributes.items()
    ]


def login_preview(*, idp: IdentityProvider, valid: ValidLogin, admin: str) -> LoginPreview:
    """What this verified login would do, without doing it; audited as saml.test_login."""
    preview = LoginPreview(idp.slug, valid.name_id, valid.name_id_format or "", started_by=admin)
    preview.attributes = attribute_rows(valid.attributes, idp.attribute_map)
    try:
        _decide(idp, valid, preview)
    except SamlRefused as refused:
        preview.refusal_reason, preview.refusal_message = refused.reason, refused.message
    except ApplicationError as exc:
        preview.refusal_reason, preview.refusal_message = RefusalReason.VALIDATION, exc.detail
    audit_record(
        actor=dry_run_actor(admin),
        action="saml.test_login",
        target_type="identityprovider",
        target_id=idp.slug,
        detail={
            "name_id": valid.name_id,
            "outcome": preview.outcome,
            "message": preview.refusal_message,
            "user": str(preview.user.pk) if preview.user else None,
        },
    )
    return preview


def _decide(idp: IdentityProvider, valid: ValidLogin, preview: LoginPreview) -> None:
    profile, values, custom, ignored = login_profile_read(idp=idp, attributes=valid.attributes)
    preview.values = {**values, **{f"custom.{k}": v for k, v in custom.items()}}
    preview.ignored = ignored
    unmapped = unmapped_names(idp, valid.attributes, ignored)
    preview.ignored.update(dict.fromkeys(unmapped, "received but not mapped"))
    found = account_find(idp, valid.name_id, values.get("email"))
    if found.user is None:
        _decide_create(idp, valid, preview, values)
    else:
        _decide_existing(idp, found, preview, values)
    _decide_roles(idp, profile, preview)


def _decide_create(
    idp: IdentityProvider, valid: ValidLogin, preview: LoginPreview, values: dict[str, Any]
) -> None:
    if not idp.jit_create:
        raise SamlRefused(
            RefusalReason.JIT_DISABLED, "no account for this NameID and JIT creation is off"
        )
    username = username_for(valid.name_id, values.get("email"))
    if username_taken(username):
        raise SamlRefused(
            RefusalReason.ACCOUNT_NOT_LINKED,
            f"an account with the username {username!r} exists but is not linked to "
            f"{idp.slug} (provision it with a SCIM token bound to {idp.slug}, turn on "
            "linking by email, or link it in admin)",
        )
    preview.account, preview.linked_by, preview.username = "create", "created", username
    preview.changes = {k: v for k, v in values.items() if v is not None}


def _decide_existing(
    idp: IdentityProvider, found: FoundAccount, preview: LoginPreview, values: dict[str, Any]
) -> None:
    user = found.user
    assert user is not None
    if not user.is_active:
        raise SamlRefused(RefusalReason.USER_INACTIVE, f"user {user.pk} is deactivated")
    preview.user, preview.username, preview.linked_by = user, user.username, found.linked_by
    preview.account = "sign_in" if found.linked_by == "name_id" else "link"
    preview.scim_decides = scim_decides_for(idp=idp, found=found, created=False)
    if not preview.scim_decides:
        preview.changes = attributes_differ(user, values)


def _decide_roles(idp: IdentityProvider, profile: MappedProfile, preview: LoginPreview) -> None:
    if preview.scim_decides:
        return  # SCIM groups are this person's roles; a login neither adds nor removes
    wanted = {n.lower(): n for n in profile.roles or [] if len(n) <= MAX_ROLE_NAME}
    held: dict[str, str] = {}
    if preview.user is not None:
        source = MembershipSource.saml(idp.slug)
        held = {n.lower(): n for n in user_role_names(preview.user, source=source)}
    preview.roles_added = sorted(wanted[k] for k in wanted.keys() - held.keys())
    preview.roles_removed = sorted(held[k] for k in held.keys() - wanted.keys())
