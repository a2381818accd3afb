"""A verified login, turned into a directory user through users.services: the same
service functions a SCIM push uses, so both paths validate and audit the same way.

Cost per login is a handful of queries whatever the number of attributes or roles:
one lookup, user_update only for what differs (a repeat login writes no user row), one
set-based role sync (a fixed number of queries however many roles change).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from axero_idp.errors import ApplicationError, UniquenessConflict
from sso.accounts import FoundAccount, account_find
from sso.mapping import CUSTOM_PREFIX, MappedProfile, profile_from_attributes
from sso.models import AttributePrecedence, IdentityProvider, SamlIdentity
from sso.refusals import RefusalReason, SamlRefused
from users.models import (
    CustomField,
    CustomFieldType,
    MembershipSource,
    Role,
    Source,
    UnmappedAttribute,
    User,
)
from users.selectors import custom_fields_by_key, profile_decided_by_scim
from users.services import (
    MANAGER_BY_SAML,
    Actor,
    attributes_unmapped_record,
    manager_ref_is_current,
    user_create,
    user_roles_sync,
    user_update,
)
from users.services.values import attributes_differ, clean_attributes, clean_custom_values

logger = logging.getLogger(__name__)

MAX_ROLE_NAME = Role._meta.get_field("display_name").max_length or 255


@dataclass
class ProvisionResult:
    user: User
    created: bool = False
    linked_by: str = "name_id"  # "name_id" | "connection" | "email" | "created"
    ignored: dict[str, str] = field(default_factory=dict)
    # The connection's SCIM side decides this person's profile and roles (precedence).
    scim_decides: bool = False
    role_names: list[str] = field(default_factory=list)
    roles_added: set[str] = field(default_factory=set)
    roles_removed: set[str] = field(default_factory=set)


def user_roles_from_login(*, idp: IdentityProvider, result: ProvisionResult) -> None:
    """Sync the roles the assertion named (this IdP's memberships only).

    Kept apart from user_provision_from_login so the login can order its steps: it runs
    after provisioning and before the session is touched."""
    if result.scim_decides:
        return  # SCIM groups are this person's roles; a login neither adds nor removes
    result.roles_added, result.roles_removed = user_roles_sync(
        user=result.user,
        role_names=result.role_names,
        source=MembershipSource.saml(idp.slug),
        actor=Actor.idp(idp.slug),
    )


def _clean_profile(
    profile: MappedProfile, definitions: Mapping[str, CustomField]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """Validate each mapped value on its own: one bad attribute (a hire date nobody
    can read) is skipped and reported, it does not lock the person out."""
    attributes: dict[str, Any] = {}
    ignored: dict[str, str] = {}
    for name, value in profile.attributes.items():
        try:
            attributes.update(clean_attributes({name: value}))
        except ApplicationError as exc:
            ignored[name] = exc.detail
    custom: dict[str, Any] = {}
    if profile.custom:
        for key, value in profile.custom.items():
            try:
                custom.update(clean_custom_values({key: value}, definitions=definitions))
            except ApplicationError as exc:
                ignored[f"custom.{key}"] = exc.detail
    return attributes, custom, ignored


def unmapped_names(
    idp: IdentityProvider, attributes: Mapping[str, Sequence[Any]], ignored: Mapping[str, str]
) -> list[str]:
    """The assertion's attribute names that reached no field: names the attribute map
    does not read, and those it maps to a custom field nobody defined."""
    mapped = {name for names in idp.attribute_map.values() for name in names}
    unmapped = [name for name in attributes if name not in mapped]
    for key, detail in ignored.items():
        if key.startswith(CUSTOM_PREFIX) and detail.endswith("no such custom profile field"):
            unmapped += [n for n in idp.attribute_map.get(key, []) if n in attributes][:1]
    return unmapped


def _maps_custom_fields(idp: IdentityProvider) -> bool:
    return any(key.startswith(CUSTOM_PREFIX) and names for key, names in idp.attribute_map.items())


def username_for(name_id: str, email: str | None) -> str:
    # OneLogin and Entra send an email or UPN as NameID: a natural username. Other
    # IdPs send opaque ids; then the email, if any, reads better.
    if "@" in name_id or not email:
        return name_id
    return email


def _changed_only(
    found: FoundAccount,
    values: Mapping[str, Any],
    custom: Mapping[str, Any],
    profile: MappedProfile,
) -> dict[str, Any]:
    """The user_update arguments for what differs from the user as just read (nothing in
    the usual repeat login, which then costs no row lock and no write). user_update
    compares again under its lock, so a concurrent change is never overwritten blindly."""
    user = found.user
    assert user is not None
    update: dict[str, Any] = {}
    changed_values = attributes_differ(user, values)
    if changed_values:
        update["attributes"] = changed_values
    changed_custom = {k: v for k, v in custom.items() if user.custom.get(k) != v}
    if changed_custom:
        update["custom"] = changed_custom
    if profile.has_manager and not manager_ref_is_current(
        user=user, ref=profile.manager_ref, manager=found.manager, order=MANAGER_BY_SAML
    ):
        update["manager_ref"] = profile.manager_ref
    return update


def identity_link(*, idp: IdentityProvider, name_id: str, user: User) -> None:
    """Remember that idp calls user name_id (exact, case-sensitive comparison)."""
    try:
        with transaction.atomic():
            SamlIdentity.objects.create(
                idp=idp, name_id=name_id, user=user, last_login_at=timezone.now()
            )
    except IntegrityError:
        pass  # a concurrent first login linked it already


def login_profile_read(
    *, idp: IdentityProvider, attributes: Mapping[str, Sequence[Any]]
) -> tuple[MappedProfile, dict[str, Any], dict[str, Any], dict[str, str]]:
    """The assertion through idp's attribute map: (profile, clean values, clean custom
    values, ignored attribute -> why). Reads only (also the admin's test login)."""
    definitions = custom_fields_by_key() if _maps_custom_fields(idp) else {}
    list_keys = frozenset(k for k, f in definitions.items() if f.type == CustomFieldType.LIST)
    profile = profile_from_attributes(attributes, idp.attribute_map, list_custom_keys=list_keys)
    values, custom, ignored = _clean_profile(profile, definitions)
    return profile, values, custom, ignored


def scim_decides_for(*, idp: IdentityProvider, found: FoundAccount, created: bool) -> bool:
    """Whether the connection's SCIM side decides this person's profile and roles (the
    rule is the directory's: users.selectors.profile_decided_by_scim)."""
    return not created and profile_decided_by_scim(
        provisioned_by=found.connection_slug,
        connection_slug=idp.slug,
        scim_first=idp.attribute_precedence == AttributePrecedence.SCIM,
    )


def user_provision_from_login(
    *,
    idp: IdentityProvider,
    name_id: str,
    attributes: Mapping[str, Sequence[Any]],
) -> ProvisionResult:
    """Find or link (by NameID, the connection's SCIM side, then email if allowed),
    create (if allowed) and refresh the user an assertion describes. Refuses deactivated
    users; never reactivates anyone. The roles are synced by user_roles_from_login."""
    read = LoginRead(*login_profile_read(idp=idp, attributes=attributes))
    account = account_find_or_create(idp=idp, name_id=name_id, read=read)
    scim_decides = scim_decides_for(idp=idp, found=account.found, created=account.created)
    user = account.user
    if not account.created and not scim_decides:
        user = account_refresh(idp=idp, found=account.found, read=read)
    identity_after_login(idp=idp, name_id=name_id, account=account)
    result = ProvisionResult(
        user=user,
        created=account.created,
        linked_by=account.linked_by,
        ignored=read.ignored,
        role_names=_role_names(read.profile, read.ignored),
        scim_decides=scim_decides,
    )
    _unmapped_report(idp=idp, attributes=attributes, ignored=read.ignored, user=user)
    return result


@dataclass(frozen=True)
class LoginRead:
    """An assertion read through the IdP's attribute map (login_profile_read)."""

    profile: MappedProfile
    values: dict[str, Any]
    custom: dict[str, Any]
    ignored: dict[str, str]


@dataclass(frozen=True)
class Account:
    """Whose login this is, and how we know."""

    user: User
    found: FoundAccount
    linked_by: str  # "name_id" | "connection" | "email" | "created"
    created: bool = False


def _refuse_inactive(user: User) -> None:
    if not user.is_active:
        raise SamlRefused(RefusalReason.USER_INACTIVE, f"user {user.pk} is deactivated")


def account_find_or_create(*, idp: IdentityProvider, name_id: str, read: LoginRead) -> Account:
    """Step 1: the account this NameID is or may be linked to, else a new one (JIT)."""
    found = account_find(idp, name_id, read.values.get("email"))
    if found.user is None:
        return account_create(idp=idp, name_id=name_id, read=read)
    _refuse_inactive(found.user)
    return Account(user=found.user, found=found, linked_by=found.linked_by)


def account_create(*, idp: IdentityProvider, name_id: str, read: LoginRead) -> Account:
    """Step 2: a new user from the assertion, where the IdP may create users."""
    if not idp.jit_create:
        raise SamlRefused(
            RefusalReason.JIT_DISABLED, "no account for this NameID and JIT creation is off"
        )
    try:
        user = user_create(
            actor=Actor.idp(idp.slug),
            source=Source.SAML,
            username=username_for(name_id, read.values.get("email")),
            attributes=read.values,
            custom={k: v for k, v in read.custom.items() if v is not None},
            manager_ref=read.profile.manager_ref if read.profile.has_manager else None,
            manager_order=MANAGER_BY_SAML,
        )
    except UniquenessConflict as exc:
        return _account_after_conflict(idp=idp, name_id=name_id, read=read, conflict=exc)
    found = FoundAccount(user=user, linked_by="created")
    return Account(user=user, found=found, linked_by="created", created=True)


def _account_after_conflict(
    *, idp: IdentityProvider, name_id: str, read: LoginRead, conflict: UniquenessConflict
) -> Account:
    # Either a concurrent first login of the same person won the race (its identity is
    # committed by now), or someone else owns the username.
    found = account_find(idp, name_id, read.values.get("email"))
    if found.user is None or found.linked_by not in ("name_id", "connection"):
        raise SamlRefused(
            RefusalReason.ACCOUNT_NOT_LINKED,
            f"an account with this username exists but is not linked to {idp.slug}: "
            f"{conflict.detail} (provision it with a SCIM token bound to {idp.slug}, "
            "turn on linking by email, or link it in admin)",
        ) from conflict
    _refuse_inactive(found.user)
    return Account(user=found.user, found=found, linked_by=found.linked_by)


def account_refresh(*, idp: IdentityProvider, found: FoundAccount, read: LoginRead) -> User:
    """Step 3: what the assertion says that the user does not have yet, written."""
    user = found.user
    assert user is not None
    update = _changed_only(found, read.values, read.custom, read.profile)
    if not update:
        return user
    try:
        return user_update(
            user=user, actor=Actor.idp(idp.slug), manager_order=MANAGER_BY_SAML, **update
        )
    except ApplicationError as exc:
        # A value that clashes with the directory (a manager cycle, a taken username)
        # must not lock the person out; it is reported instead.
        read.ignored["update"] = exc.detail
        return user


def identity_after_login(*, idp: IdentityProvider, name_id: str, account: Account) -> None:
    """Link a newly found or created account to the NameID, or note the login time."""
    if account.linked_by != "name_id":
        identity_link(idp=idp, name_id=name_id, user=account.user)
    elif not account.found.identity_login_recent:
        # Coarse on purpose: one write less per login in a login storm.
        SamlIdentity.objects.filter(idp=idp, name_id=name_id).update(last_login_at=timezone.now())


def _role_names(profile: MappedProfile, ignored: dict[str, str]) -> list[str]:
    # An assertion without the roles attribute grants no roles: what this IdP granted
    # before is removed (other sources' memberships stay).
    role_names = [name for name in profile.roles or [] if len(name) <= MAX_ROLE_NAME]
    if len(role_names) != len(profile.roles or []):
        ignored["roles"] = f"role names longer than {MAX_ROLE_NAME} characters were skipped"
    return role_names


def _unmapped_report(
    *,
    idp: IdentityProvider,
    attributes: Mapping[str, Sequence[Any]],
    ignored: Mapping[str, str],
    user: User,
) -> None:
    attributes_unmapped_record(
        protocol=UnmappedAttribute.Protocol.SAML,
        names=unmapped_names(idp, attributes, ignored),
        connection_slug=idp.slug,
    )
    if ignored:
        logger.warning(
            "SAML attributes ignored",
            # Field names only: the values may be personal data (the audit has them).
            extra={"idp": idp.slug, "user_id": str(user.pk), "ignored": sorted(ignored)},
        )
