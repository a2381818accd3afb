"""Writes to personas: their rule and the spaces their matches join."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from axero_idp.errors import UniquenessConflict, ValidationFailed
from personas.models import Persona, PersonaSpace, Space, SpaceMembership
from personas.queue import drain_after_commit
from personas.rules import validate_rule
from personas.services.pending import pending_mark_persona
from personas.services.removals import audit_memberships_removed
from personas.services.spaces import clean_name, clean_role, clean_slug
from users.models import CustomField
from users.selectors import custom_fields_by_key
from users.services import Actor, audit_record

MAX_SPACES_PER_PERSONA = 50


@dataclass(frozen=True, order=True)
class SpaceGrant:
    space: str  # slug
    role: str


def clean_space_grants(
    value: Any, *, path: str, known_spaces: set[str] | None = None
) -> list[SpaceGrant]:
    """Validate a persona's `spaces` list ([{"space": slug, "role": role}, ...])."""
    if not isinstance(value, list):
        raise ValidationFailed(f'{path}: expected a list of {{"space", "role"}}')
    if len(value) > MAX_SPACES_PER_PERSONA:
        raise ValidationFailed(f"{path}: more than {MAX_SPACES_PER_PERSONA} spaces")
    grants: list[SpaceGrant] = []
    seen: set[str] = set()
    for index, item in enumerate(value):
        where = f"{path}[{index}]"
        if not isinstance(item, dict):
            raise ValidationFailed(f'{where}: expected {{"space", "role"}}')
        unknown = sorted(set(item) - {"space", "role"})
        if unknown:
            raise ValidationFailed(f'{where}: unknown key "{unknown[0]}"')
        slug = clean_slug(item.get("space"), path=f"{where}.space")
        role = clean_role(item.get("role", "member"), path=f"{where}.role")
        if slug in seen:
            raise ValidationFailed(f'{where}.space: "{slug}" is listed twice')
        if known_spaces is not None and slug not in known_spaces:
            raise ValidationFailed(f'{where}.space: no space "{slug}"')
        seen.add(slug)
        grants.append(SpaceGrant(space=slug, role=role))
    return grants


def _grants_of(persona: Persona) -> list[SpaceGrant]:
    links = PersonaSpace.objects.filter(persona=persona).select_related("space")
    return sorted(SpaceGrant(space=link.space.slug, role=link.role) for link in links)


def _spaces_by_slug(spaces: Sequence[SpaceGrant]) -> dict[str, Space]:
    by_slug = {s.slug: s for s in Space.objects.filter(slug__in=[g.space for g in spaces])}
    for index, grant in enumerate(spaces):
        if grant.space not in by_slug:
            raise ValidationFailed(f'spaces[{index}].space: no space "{grant.space}"')
    return by_slug


def _links_write(persona: Persona, spaces: Sequence[SpaceGrant], by_slug: dict[str, Space]) -> None:
    PersonaSpace.objects.filter(persona=persona).delete()
    PersonaSpace.objects.bulk_create(
        [PersonaSpace(persona=persona, space=by_slug[g.space], role=g.role) for g in spaces]
    )


def _evaluation_schedule(persona: Persona, schedule: bool) -> None:
    """A changed persona is evaluated for everyone after commit (unless the caller
    evaluates it itself)."""
    if schedule:
        pending_mark_persona(persona_id=persona.pk)
        drain_after_commit()


def _rule_checked(rule: Any, custom_fields: Mapping[str, CustomField] | None) -> bool:
    """Validate rule; whether it reads the calendar (has_time_rule)."""
    known = custom_fields if custom_fields is not None else custom_fields_by_key()
    return validate_rule(rule, custom_fields=known).has_time_rule


@transaction.atomic
def persona_create(
    *,
    slug: str,
    name: str,
    rule: Any,
    spaces: Sequence[SpaceGrant] = (),
    actor: Actor,
    custom_fields: Mapping[str, CustomField] | None = None,
    schedule_evaluation: bool = True,
) -> Persona:
    """Create a persona with its rule and the spaces its matches join."""
    slug = clean_slug(slug, path="slug")
    name = clean_name(name, path="name")
    has_time_rule = _rule_checked(rule, custom_fields)
    by_slug = _spaces_by_slug(spaces)
    try:
        with transaction.atomic():
            persona = Persona.objects.create(
                slug=slug, name=name, rule=rule, has_time_rule=has_time_rule
            )
    except IntegrityError as exc:
        raise UniquenessConflict(f"persona {slug!r} was created concurrently") from exc
    _links_write(persona, spaces, by_slug)
    audit_record(
        actor=actor,
        action="persona.created",
        target=persona,
        detail={"name": name, "rule": rule, "spaces": [g.__dict__ for g in spaces]},
    )
    _evaluation_schedule(persona, schedule_evaluation)
    return persona


@transaction.atomic
def persona_rule_set(
    *,
    persona: Persona,
    name: str,
    rule: Any,
    actor: Actor,
    custom_fields: Mapping[str, CustomField] | None = None,
    schedule_evaluation: bool = True,
) -> bool:
    """Set a persona's name and rule, audited before/after; whether anything changed."""
    name = clean_name(name, path="name")
    has_time_rule = _rule_checked(rule, custom_fields)
    persona = Persona.objects.select_for_update().get(pk=persona.pk)
    changes = {
        key: [old, new]
        for key, old, new in (("name", persona.name, name), ("rule", persona.rule, rule))
        if old != new
    }
    if not changes:
        return False
    persona.name, persona.rule, persona.has_time_rule = name, rule, has_time_rule
    persona.updated_at = timezone.now()
    persona.save(update_fields=["name", "rule", "has_time_rule", "updated_at"])
    audit_record(actor=actor, action="persona.updated", target=persona, detail=changes)
    _evaluation_schedule(persona, schedule_evaluation)
    return True


@transaction.atomic
def persona_spaces_set(
    *,
    persona: Persona,
    spaces: Sequence[SpaceGrant],
    actor: Actor,
    schedule_evaluation: bool = True,
) -> bool:
    """Set the spaces a persona's matches join (and their role), audited before/after;
    whether anything changed. Members move at the next evaluation."""
    by_slug = _spaces_by_slug(spaces)
    persona = Persona.objects.select_for_update().get(pk=persona.pk)
    before = _grants_of(persona)
    if sorted(spaces) == before:
        return False
    _links_write(persona, spaces, by_slug)
    audit_record(
        actor=actor,
        action="persona.spaces_changed",
        target=persona,
        detail={"spaces": [[g.__dict__ for g in before], [g.__dict__ for g in spaces]]},
    )
    _evaluation_schedule(persona, schedule_evaluation)
    return True


@transaction.atomic
def persona_upsert(
    *,
    slug: str,
    name: str,
    rule: Any,
    spaces: Sequence[SpaceGrant],
    actor: Actor,
    custom_fields: Mapping[str, CustomField] | None = None,
    schedule_evaluation: bool = True,
) -> tuple[Persona, str]:
    """Create or update a persona by slug (the import and the admin form); returns
    (persona, "created" | "updated" | "unchanged")."""
    slug = clean_slug(slug, path="slug")
    persona = Persona.objects.select_for_update().filter(slug=slug).first()
    if persona is None:
        created = persona_create(
            slug=slug,
            name=name,
            rule=rule,
            spaces=spaces,
            actor=actor,
            custom_fields=custom_fields,
            schedule_evaluation=schedule_evaluation,
        )
        return created, "created"
    rule_changed = persona_rule_set(
        persona=persona,
        name=name,
        rule=rule,
        actor=actor,
        custom_fields=custom_fields,
        schedule_evaluation=False,
    )
    spaces_changed = persona_spaces_set(
        persona=persona, spaces=spaces, actor=actor, schedule_evaluation=False
    )
    if not (rule_changed or spaces_changed):
        return persona, "unchanged"
    _evaluation_schedule(persona, schedule_evaluation)
    persona.refresh_from_db()
    return persona, "updated"


@transaction.atomic
def persona_delete(*, persona: Persona, actor: Actor) -> int:
    """Delete a persona; the memberships it granted go with it, each one audited."""
    persona = Persona.objects.select_for_update().get(pk=persona.pk)
    removed = audit_memberships_removed(
        memberships=SpaceMembership.objects.filter(persona=persona), actor=actor
    )
    audit_record(
        actor=actor,
        action="persona.deleted",
        target=persona,
        detail={"slug": persona.slug, "rule": persona.rule, "memberships_removed": removed},
    )
    persona.delete()
    return removed
