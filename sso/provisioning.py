"""A verified login, turned into a directory user through users.services: the same
service functions a SCIM push uses, so both paths validate and audit the same way.

Cost per login is a handful of queries whatever the number of attributes or roles:
one lookup, user_update only for what differs (a repeat login writes no user row), one
set-based role sync (a fixed number of queries however many roles change).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from axero_idp.errors import ApplicationError, UniquenessConflict
from axero_idp.rawsql import model_columns, table
from sso import refusals
from sso.mapping import CUSTOM_PREFIX, MappedProfile, profile_from_attributes
from sso.models import AttributePrecedence, IdentityProvider, SamlIdentity
from sso.refusals import SamlRefused
from users.models import (
    Connection,
    CustomField,
    CustomFieldType,
    MembershipSource,
    Role,
    Source,
    UnmappedAttribute,
    User,
)
from users.selectors import custom_fields_by_key, user_for_connection_link, user_for_email_link
from users.services import (
    MANAGER_BY_SAML,
    Actor,
    ManagerKeys,
    attributes_unmapped_record,
    manager_ref_is_current,
    user_create,
    user_roles_sync,
    user_update,
)
from users.services.logins import LAST_LOGIN_PRECISION
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


def account_find(idp: IdentityProvider, name_id: str, email: str | None) -> FoundAccount:
    # Every login starts here: one hand-written query (user, identity and manager keys
    # by the (idp, name_id) unique index), where select_related cost more to compile
    # than to run.
    recent_since = timezone.now() - LAST_LOGIN_PRECISION
    found = list(User.objects.raw(_by_name_id_sql(), [recent_since, idp.pk, name_id]))
    if found:
        row: Any = found[0]  # a User with the extra columns as attributes
        return FoundAccount(
            user=row,
            linked_by="name_id",
            has_identity=True,
            identity_login_recent=bool(row.identity_login_recent),
            connection_slug=row.connection_slug or "",
            manager=ManagerKeys(
                id=row.manager_id,
                email=row.manager_email or "",
                username=row.manager_username or "",
                external_id=row.manager_external_id or "",
            ),
        )
    in_connection = _found_in_connection(idp, name_id)
    if in_connection.user is not None:
        return in_connection
    if idp.link_by_email and email:
        return _found_by_email(idp, email)
    return FoundAccount(user=None)


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
            refusals.EMAIL_LINK_REFUSED,
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
    """Whether the connection's SCIM side decides this person's profile and roles."""
    return (
        not created
        and idp.attribute_precedence == AttributePrecedence.SCIM
        and found.connection_slug == idp.slug
    )


def user_provision_from_login(
    *,
    idp: IdentityProvider,
    name_id: str,
    attributes: Mapping[str, Sequence[Any]],
) -> ProvisionResult:
    """Find (by NameID, then email if allowed), create (if allowed) and refresh the user
    an assertion describes. Refuses deactivated users; never reactivates anyone. The
    roles are synced by user_roles_from_login."""
    actor = Actor.idp(idp.slug)
    profile, values, custom, ignored = login_profile_read(idp=idp, attributes=attributes)
    found = account_find(idp, name_id, values.get("email"))
    user, linked_by = found.user, found.linked_by
    if user is not None and not user.is_active:
        raise SamlRefused(refusals.USER_INACTIVE, f"user {user.pk} is deactivated")
    created = False
    if user is None:
        if not idp.jit_create:
            raise SamlRefused(
                refusals.JIT_DISABLED, "no account for this NameID and JIT creation is off"
            )
        try:
            user = user_create(
                actor=actor,
                source=Source.SAML,
                username=username_for(name_id, values.get("email")),
                attributes=values,
                custom={k: v for k, v in custom.items() if v is not None},
                manager_ref=profile.manager_ref if profile.has_manager else None,
                manager_order=MANAGER_BY_SAML,
            )
        except UniquenessConflict as exc:
            # Either a concurrent first login of the same person won the race (its
            # identity is committed by now), or someone else owns the username.
            found = account_find(idp, name_id, values.get("email"))
            user, linked_by = found.user, found.linked_by
            if user is None or linked_by not in ("name_id", "connection"):
                raise SamlRefused(
                    refusals.ACCOUNT_NOT_LINKED,
                    f"an account with this username exists but is not linked to {idp.slug}: "
                    f"{exc.detail} (provision it with a SCIM token bound to {idp.slug}, "
                    "turn on linking by email, or link it in admin)",
                ) from exc
            if not user.is_active:
                raise SamlRefused(refusals.USER_INACTIVE, f"user {user.pk} is deactivated") from exc
        else:
            created, linked_by = True, "created"
    scim_decides = scim_decides_for(idp=idp, found=found, created=created)
    if not created and not scim_decides:
        update = _changed_only(found, values, custom, profile)
        if update:
            try:
                user = user_update(user=user, actor=actor, manager_order=MANAGER_BY_SAML, **update)
            except ApplicationError as exc:
                # A value that clashes with the directory (a manager cycle, a taken
                # username) must not lock the person out; it is reported instead.
                ignored["update"] = exc.detail
    if linked_by != "name_id":
        identity_link(idp=idp, name_id=name_id, user=user)
    # An assertion without the roles attribute grants no roles: what this IdP granted
    # before is removed (other sources' memberships stay).
    role_names = [name for name in profile.roles or [] if len(name) <= MAX_ROLE_NAME]
    if len(role_names) != len(profile.roles or []):
        ignored["roles"] = f"role names longer than {MAX_ROLE_NAME} characters were skipped"
    result = ProvisionResult(
        user=user,
        created=created,
        linked_by=linked_by,
        ignored=ignored,
        role_names=role_names,
        scim_decides=scim_decides,
    )
    if linked_by == "name_id" and not found.identity_login_recent:
        # Coarse on purpose: one write less per login in a login storm.
        SamlIdentity.objects.filter(idp=idp, name_id=name_id).update(last_login_at=timezone.now())
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
    return result
