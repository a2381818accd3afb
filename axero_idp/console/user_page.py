"""The user page with its spaces and why (which persona, or an admin's hand, put the
person there): users/ cannot import personas/, so the page is composed here, on top
of media's (which adds the profile image) and the directory's user admin."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from media.admin import UserAdmin as MediaUserAdmin
from personas.models import Persona
from personas.selectors import spaces_of_user
from users.models import User


@dataclass(frozen=True)
class Reason:
    label: str
    url: str | None = None


@dataclass(frozen=True)
class SpaceLine:
    name: str
    url: str
    role: str
    reasons: list[Reason] = field(default_factory=list)


def user_spaces_explained(user: User) -> list[SpaceLine]:
    """Each space the person is in, their role there, and every reason: two queries."""
    spaces = spaces_of_user(user.pk)
    slugs = {r["persona"] for s in spaces for r in s.reasons if "persona" in r}
    personas = {p.slug: p for p in Persona.objects.filter(slug__in=slugs)}
    return [
        SpaceLine(
            name=entry.space.name,
            url=reverse("admin:personas_space_change", args=[entry.space.pk]),
            role=entry.role,
            reasons=[_reason(r, personas) for r in entry.reasons],
        )
        for entry in spaces
    ]


def _reason(reason: dict[str, Any], personas: dict[str, Persona]) -> Reason:
    persona = personas.get(reason.get("persona", ""))
    if persona is None:
        return Reason(f"added by an admin ({reason['role']})")
    return Reason(
        f"persona {persona.name} ({reason['role']})",
        reverse("admin:personas_persona_change", args=[persona.pk]),
    )


class UserPageAdmin(MediaUserAdmin):
    def page_context(self, request: HttpRequest, user: User) -> dict[str, Any]:
        return {**super().page_context(request, user), "spaces": user_spaces_explained(user)}
