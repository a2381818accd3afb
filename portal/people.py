"""How the employee pages show a person: the few facts a card or a chart box needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from django.urls import reverse

from users.models import User

# Direct reports shown on a page; the rest are counted ("and N more").
REPORTS_SHOWN: Final = 24


@dataclass(frozen=True)
class PersonCard:
    id: str
    name: str
    title: str
    department: str
    email: str
    url: str
    org_url: str
    image_url: str | None
    initials: str
    # A deactivated manager still stands in the chain, without a link (no profile).
    active: bool = True


def photo_url(user: User) -> str | None:
    """The directory's photo URL (any signed-in person may load it), versioned so a
    browser keeps each for good; None without a photo."""
    if not user.image_version:
        return None
    return reverse("directory-photo", args=[user.pk]) + f"?v={user.image_version}"


def initials_of(name: str) -> str:
    return "".join(word[0] for word in name.split()[:2]).upper() or "?"


def person_card(user: User) -> PersonCard:
    name = user.get_full_name()
    return PersonCard(
        id=str(user.pk),
        name=name,
        title=user.title,
        department=user.department,
        email=user.email,
        url=reverse("portal:person", args=[user.pk]),
        org_url=reverse("portal:org", args=[user.pk]),
        image_url=photo_url(user),
        initials=initials_of(name),
        active=user.is_active,
    )


def field_texts(fields: list[tuple[str, Any]]) -> list[tuple[str, str]]:
    """Custom field values as a page shows them: lists joined, yes/no for booleans."""
    return [(label, _text(value)) for label, value in fields]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)
