"""`personas import`: the personas file (INTERFACES.md §6), validated whole, then
written in one transaction, then evaluated."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Final

from django.db import transaction

from axero_idp.errors import ValidationFailed
from personas.models import Persona, Space
from personas.rules import validate_rule
from personas.services.evaluation import EvaluationResult, persona_evaluate
from personas.services.personas import SpaceGrant, clean_space_grants, persona_upsert
from personas.services.spaces import clean_name, clean_slug, space_upsert
from users.selectors import custom_fields_by_key
from users.services import Actor

MAX_ENTRIES: Final = 1000


@dataclass(frozen=True)
class _SpaceEntry:
    slug: str
    name: str


@dataclass(frozen=True)
class _PersonaEntry:
    slug: str
    name: str
    rule: Any
    spaces: list[SpaceGrant]


@dataclass
class ImportSummary:
    spaces: Counter[str] = field(default_factory=Counter)
    personas: Counter[str] = field(default_factory=Counter)
    evaluations: list[EvaluationResult] = field(default_factory=list)


def _object(value: Any, path: str, allowed: set[str], required: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValidationFailed(f"{path}: expected an object")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise ValidationFailed(f'{path}: unknown key "{unknown[0]}"')
    for key in required:
        if key not in value:
            raise ValidationFailed(f"{path}.{key}: required")
    return value


def _list(document: dict[str, Any], key: str) -> list[Any]:
    value = document.get(key, [])
    if not isinstance(value, list):
        raise ValidationFailed(f"{key}: expected a list")
    if len(value) > MAX_ENTRIES:
        raise ValidationFailed(f"{key}: more than {MAX_ENTRIES} entries")
    return value


def personas_file_parse(document: Any) -> tuple[list[_SpaceEntry], list[_PersonaEntry]]:
    """Validate the whole file (reading, never writing); the first problem is raised
    with its path, e.g. `personas[0].rule.all[1].op: unknown operator "foo"`."""
    document = _object(document, "file", {"spaces", "personas"}, ())
    spaces: list[_SpaceEntry] = []
    for index, raw in enumerate(_list(document, "spaces")):
        path = f"spaces[{index}]"
        item = _object(raw, path, {"slug", "name"}, ("slug", "name"))
        slug = clean_slug(item["slug"], path=f"{path}.slug")
        if any(s.slug == slug for s in spaces):
            raise ValidationFailed(f'{path}.slug: "{slug}" is listed twice')
        spaces.append(_SpaceEntry(slug=slug, name=clean_name(item["name"], path=f"{path}.name")))
    known = {s.slug for s in spaces} | set(Space.objects.values_list("slug", flat=True))
    custom_fields = custom_fields_by_key()
    personas: list[_PersonaEntry] = []
    for index, raw in enumerate(_list(document, "personas")):
        path = f"personas[{index}]"
        item = _object(raw, path, {"slug", "name", "rule", "spaces"}, ("slug", "name", "rule"))
        slug = clean_slug(item["slug"], path=f"{path}.slug")
        if any(p.slug == slug for p in personas):
            raise ValidationFailed(f'{path}.slug: "{slug}" is listed twice')
        name = clean_name(item["name"], path=f"{path}.name")
        validate_rule(item["rule"], custom_fields=custom_fields, path=f"{path}.rule")
        grants = clean_space_grants(
            item.get("spaces", []), path=f"{path}.spaces", known_spaces=known
        )
        personas.append(_PersonaEntry(slug=slug, name=name, rule=item["rule"], spaces=grants))
    return spaces, personas


def personas_import(*, document: Any, actor: Actor, evaluate: bool = True) -> ImportSummary:
    """Create or update the file's spaces and personas by slug (others are left alone),
    all or nothing; then evaluate every persona of the file (an unchanged one too: the
    import doubles as "bring these up to date now")."""
    spaces, personas = personas_file_parse(document)
    summary = ImportSummary()
    imported: list[Persona] = []
    with transaction.atomic():
        # Every evaluation locks personas in id order; taking the file's in file order
        # (one upsert after another) would deadlock with a drain holding them.
        list(
            Persona.objects.select_for_update()
            .filter(slug__in=[entry.slug for entry in personas])
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        for space in spaces:
            _, status = space_upsert(slug=space.slug, name=space.name, actor=actor)
            summary.spaces[status] += 1
        for entry in personas:
            persona, status = persona_upsert(
                slug=entry.slug,
                name=entry.name,
                rule=entry.rule,
                spaces=entry.spaces,
                actor=actor,
                schedule_evaluation=not evaluate,
            )
            summary.personas[status] += 1
            imported.append(persona)
    if evaluate:
        # After the commit: each evaluation is its own transaction with its own lock.
        for persona in imported:
            summary.evaluations.append(persona_evaluate(persona=persona, actor=actor))
    return summary
