"""Writes to the SSO configuration (importing, refreshing, deactivating and deleting
identity providers) and the end of the sessions an IdP opened."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Final

from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone

from axero_idp.errors import ValidationFailed
from sso.mapping import attribute_map_merge
from sso.metadata import IdpMetadata, idp_metadata_fetch, idp_metadata_parse
from sso.models import IdentityProvider, SamlSession
from sso.presets import preset_for
from users.models import Connection, User
from users.services import (
    Actor,
    audit_record,
    audit_record_many,
    connection_ensure,
    session_end_all,
)
from users.services.audit import certificate_fingerprints

logger = logging.getLogger(__name__)


def _apply(idp: IdentityProvider, parsed: IdpMetadata) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for name in ("entity_id", "sso_url", "sso_binding", "slo_url", "signing_certificates"):
        value = getattr(parsed, name)
        if getattr(idp, name) != value:
            changes[name] = (
                value if name != "signing_certificates" else f"{len(value)} certificate(s)"
            )
            setattr(idp, name, value)
    return changes


def _options_apply(idp: IdentityProvider, options: Mapping[str, Any]) -> dict[str, Any]:
    """Set each option given (not None) that differs; returns what changed."""
    changes: dict[str, Any] = {}
    for name, value in options.items():
        if value is not None and value != getattr(idp, name):
            setattr(idp, name, value)
            changes[name] = value
    return changes


@transaction.atomic
def idp_import(
    *,
    slug: str,
    metadata_xml: bytes,
    actor: Actor,
    metadata_url: str | None = None,
    attribute_map: Mapping[str, Any] | None = None,
    allow_idp_initiated: bool | None = None,
) -> tuple[IdentityProvider, bool, dict[str, Any]]:
    """Create or update the IdP slug from its metadata; returns (idp, created, changes)."""
    parsed = idp_metadata_parse(metadata_xml)
    idp = IdentityProvider.objects.select_for_update().filter(slug=slug).first()
    created = idp is None
    if idp is None:
        idp = IdentityProvider(slug=slug, name=slug)
    before = {name: getattr(idp, name) for name in _AUDITED} if not created else {}
    changes = _apply(idp, parsed)
    options = {
        "attribute_map": attribute_map_merge(attribute_map) if attribute_map is not None else None,
        "allow_idp_initiated": allow_idp_initiated,
        "metadata_url": metadata_url,
    }
    changes.update(_options_apply(idp, options))
    idp.metadata_refreshed_at = timezone.now()
    try:
        idp.full_clean()
    except DjangoValidationError as exc:
        raise ValidationFailed(f"identity provider: {exc.message_dict}") from exc
    idp.save()
    # The IdP's SAML side and its SCIM tokens are one connection, named by the slug.
    connection_ensure(slug=idp.slug, actor=actor)
    if created or changes:
        audit_record(
            actor=actor,
            action="sso.idp_created" if created else "sso.idp_updated",
            target=idp,
            detail={"changes": _before_after(before, idp, changes)},
        )
    return idp, created, changes


# What an import can change, recorded as [before, after] (as admin changes are).
_AUDITED: Final = (
    "entity_id",
    "sso_url",
    "sso_binding",
    "slo_url",
    "signing_certificates",
    "attribute_map",
    "allow_idp_initiated",
    "metadata_url",
)


def _before_after(
    before: Mapping[str, Any], idp: IdentityProvider, changes: Mapping[str, Any]
) -> dict[str, Any]:
    def shown(name: str, value: Any) -> Any:
        return certificate_fingerprints(value) if name == "signing_certificates" else value

    return {
        name: [shown(name, before.get(name)) if before else None, shown(name, getattr(idp, name))]
        for name in changes
    }


def idp_import_for_connection(
    *,
    connection: Connection,
    actor: Actor,
    metadata_xml: bytes | None = None,
    metadata_url: str | None = None,
) -> tuple[IdentityProvider, bool, dict[str, Any]]:
    """Import the IdP metadata of a connection made on the admin's connections page,
    pasted, uploaded or fetched from its URL (the same import as `saml_idp import`).
    The vendor's attribute map applies when the IdP is created; a re-import keeps
    whatever an admin changed since."""
    if metadata_url:
        metadata_xml = idp_metadata_fetch(metadata_url)
    if not metadata_xml:
        raise ValidationFailed("metadata: paste it, upload the file or give its URL")
    exists = IdentityProvider.objects.filter(slug=connection.slug).exists()
    return idp_import(
        slug=connection.slug,
        metadata_xml=metadata_xml,
        actor=actor,
        metadata_url=metadata_url or None,
        attribute_map=None if exists else preset_for(connection.vendor).attribute_map,
    )


def idp_metadata_refresh(*, idp_id: int) -> bool:
    """Re-read an IdP's metadata from its URL (daily); returns whether anything changed.
    The old configuration stays when the fetch or the metadata is bad."""
    idp = (
        IdentityProvider.objects.filter(pk=idp_id, is_active=True).exclude(metadata_url="").first()
    )
    if idp is None:
        return False
    body = idp_metadata_fetch(idp.metadata_url)
    _idp, _created, changes = idp_import(
        slug=idp.slug, metadata_xml=body, actor=Actor.system("metadata refresh")
    )
    if changes:
        logger.info("IdP metadata changed", extra={"idp": idp.slug, "fields": sorted(changes)})
    return bool(changes)


@transaction.atomic
def saml_sessions_end(
    *,
    idp: IdentityProvider,
    actor: Actor,
    cause: str,
    name_id: str | None = None,
    session_indexes: Sequence[str] = (),
) -> int:
    """End the Django sessions idp opened: all of them, or name_id's (only those with
    one of session_indexes, when given). One `saml.logout` event per user; returns how
    many sessions ended."""
    query = SamlSession.objects.select_for_update().filter(idp=idp)
    if name_id is not None:
        query = query.filter(name_id=name_id)
    if session_indexes:
        query = query.filter(session_index__in=session_indexes)
    rows = list(query.values_list("pk", "session_key", "user_id"))
    if not rows:
        return 0
    Session.objects.filter(session_key__in=[key for _, key, _ in rows]).delete()
    SamlSession.objects.filter(pk__in=[pk for pk, _, _ in rows]).delete()
    per_user = Counter(user_id for _, _, user_id in rows)
    audit_record_many(
        actor=actor,
        entries=[
            (
                "saml.logout",
                User(pk=user_id),
                {"idp": idp.slug, "initiated_by": cause, "sessions_ended": count},
            )
            for user_id, count in sorted(per_user.items(), key=lambda item: str(item[0]))
        ],
    )
    return len(rows)


@transaction.atomic
def idp_deactivate(*, idp: IdentityProvider, actor: Actor) -> int:
    """Stop trusting idp: no login through it any more, and every session it opened
    ends (a compromised or retired IdP must not keep anyone signed in). Returns how
    many sessions ended."""
    IdentityProvider.objects.filter(pk=idp.pk).update(is_active=False, updated_at=timezone.now())
    idp.is_active = False
    ended = saml_sessions_end(idp=idp, actor=actor, cause="idp_deactivated")
    audit_record(
        actor=actor, action="sso.idp_deactivated", target=idp, detail={"sessions_ended": ended}
    )
    return ended


@transaction.atomic
def idp_delete(*, idp: IdentityProvider, actor: Actor) -> int:
    """Delete idp with its identities, ending every session it opened first (deleting
    only its SAML session records would leave those sessions alive)."""
    ended = saml_sessions_end(idp=idp, actor=actor, cause="idp_deleted")
    audit_record(
        actor=actor,
        action="sso.idp_deleted",
        target=idp,
        detail={"slug": idp.slug, "entity_id": idp.entity_id, "sessions_ended": ended},
    )
    idp.delete()
    return ended


@transaction.atomic
def user_sign_out_everywhere(*, user: User, actor: Actor) -> int:
    """End every session of the user: each web process drops them at their next request
    (session_end_all), and the SAML sessions go at once, with their Django sessions, so
    no list shows them any more. Returns how many SAML sessions ended."""
    session_end_all(user=user)
    keys = list(SamlSession.objects.filter(user=user).values_list("session_key", flat=True))
    Session.objects.filter(session_key__in=keys).delete()
    SamlSession.objects.filter(session_key__in=keys).delete()
    audit_record(
        actor=actor,
        action="user.signed_out_everywhere",
        target=user,
        detail={"saml_sessions_ended": len(keys)},
    )
    return len(keys)
