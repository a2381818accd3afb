"""From SAML attributes to directory values: the attribute map (INTERFACES.md §7) and
the pure functions that read an assertion's attributes through it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from axero_idp.errors import ValidationFailed
from users.services.values import ATTRIBUTE_FIELDS

CUSTOM_PREFIX: Final = "custom."

# Defaults: OneLogin's names first, then common Okta and Entra ID spellings.
DEFAULT_ATTRIBUTE_MAP: Final[dict[str, tuple[str, ...]]] = {
    "email": (
        "User.email",
        "email",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    ),
    "first_name": (
        "User.FirstName",
        "firstName",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
    ),
    "last_name": (
        "User.LastName",
        "lastName",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
    ),
    "roles": (
        "memberOf",
        "roles",
        "http://schemas.microsoft.com/ws/2008/06/identity/claims/role",
    ),
    "manager": ("manager",),
    "hire_date": ("hireDate",),
    "photo_url": ("photo",),
    "title": ("title",),
    "department": ("department",),
    "employee_number": ("employeeNumber",),
    "custom.persona": ("persona",),
}

# Product fields an attribute may set directly through user_update(attributes=...):
# the directory's plain attributes, less the keys SAML never rewrites (the username is
# fixed at creation, and the external id belongs to SCIM).
PLAIN_FIELDS: Final = frozenset(ATTRIBUTE_FIELDS) - {"username", "external_id"}
SPECIAL_FIELDS: Final = frozenset({"roles", "manager"})


def _is_product_field(key: object) -> bool:
    if not isinstance(key, str):
        return False
    if key.startswith(CUSTOM_PREFIX):
        return len(key) > len(CUSTOM_PREFIX)
    return key in PLAIN_FIELDS or key in SPECIAL_FIELDS


def _attribute_names(key: str, names: Any) -> list[str]:
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise ValidationFailed(f"attribute map: {key!r} must name a SAML attribute or a list")
    return list(names)


def attribute_map_merge(overrides: Mapping[str, Any] | None) -> dict[str, list[str]]:
    """The defaults with overrides applied: each value a name or a list of names
    (first present wins); an empty list switches a field off."""
    merged = {key: list(names) for key, names in DEFAULT_ATTRIBUTE_MAP.items()}
    for key, names in (overrides or {}).items():
        if not _is_product_field(key):
            raise ValidationFailed(f"attribute map: {key!r} is not a product field")
        merged[key] = _attribute_names(key, names)
    return merged


def first_present(
    attributes: Mapping[str, Sequence[Any]], names: Iterable[str]
) -> list[str] | None:
    """The values of the first attribute in names that the assertion carries."""
    for name in names:
        if name in attributes:
            return [v for v in attributes[name] if isinstance(v, str)]
    return None


def split_roles(values: Sequence[str]) -> list[str]:
    """Role names from a multi-valued attribute or one `;`-delimited value (OneLogin
    sends either); blanks dropped, order kept, duplicates (ignoring case) once."""
    seen: set[str] = set()
    names: list[str] = []
    for value in values:
        for part in value.split(";"):
            name = part.strip()
            if name and name.lower() not in seen:
                seen.add(name.lower())
                names.append(name)
    return names


@dataclass
class MappedProfile:
    """What an assertion says about a user, in product terms. A field absent from the
    assertion is absent here (and left unchanged); present-but-empty clears it."""

    attributes: dict[str, Any] = field(default_factory=dict)
    custom: dict[str, Any] = field(default_factory=dict)
    manager_ref: str | None = None
    has_manager: bool = False
    roles: list[str] | None = None


def profile_from_attributes(
    attributes: Mapping[str, Sequence[Any]],
    attribute_map: Mapping[str, Sequence[str]],
    *,
    list_custom_keys: frozenset[str] = frozenset(),
) -> MappedProfile:
    """Read the assertion's attributes through the IdP's attribute map."""
    profile = MappedProfile()
    for key, names in attribute_map.items():
        values = first_present(attributes, names)
        if values is not None:
            _profile_set(profile, key, values, list_custom_keys)
    return profile


def _profile_set(
    profile: MappedProfile, key: str, values: list[str], list_custom_keys: frozenset[str]
) -> None:
    single = values[0] if values else ""
    if key == "roles":
        profile.roles = split_roles(values)
    elif key == "manager":
        profile.has_manager = True
        profile.manager_ref = single or None
    elif key.startswith(CUSTOM_PREFIX):
        custom_key = key[len(CUSTOM_PREFIX) :]
        profile.custom[custom_key] = values if custom_key in list_custom_keys else (single or None)
    elif key in PLAIN_FIELDS:
        profile.attributes[key] = single or None
