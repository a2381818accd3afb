"""SCIM schema URNs and resource types, and what a URN an IdP sends stands for."""

from __future__ import annotations

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
AXERO_SCHEMA = "urn:ietf:params:scim:schemas:extension:axero:2.0:User"

USER = "User"
GROUP = "Group"

# OneLogin's templates use the SCIM 1.1-style short URNs next to the IETF ones.
SHORT_URNS: dict[str, str] = {
    "urn:scim:schemas:core:2.0": USER_SCHEMA,
    "urn:scim:schemas:core:1.0": USER_SCHEMA,
    "urn:scim:schemas:extension:enterprise:2.0": ENTERPRISE_SCHEMA,
    "urn:scim:schemas:extension:enterprise:1.0": ENTERPRISE_SCHEMA,
    "urn:scim:schemas:extension:axero:2.0": AXERO_SCHEMA,
}

# Canonical-key prefix of each extension schema.
EXTENSION_PREFIX = {ENTERPRISE_SCHEMA: "enterprise:", AXERO_SCHEMA: "axero:"}


def resource_kind(resource: str) -> str:
    lowered = resource.lower()
    if lowered in ("user", "users"):
        return USER
    if lowered in ("group", "groups"):
        return GROUP
    raise ValueError(f"unknown SCIM resource type {resource!r}")


_KNOWN_URNS = {
    urn.lower(): urn for urn in (USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE_SCHEMA, AXERO_SCHEMA)
}


def schema_for_urn(resource: str, urn: str) -> str | None:
    """The full schema URN a (possibly short or company-named) URN stands for, or None."""
    lowered = urn.lower()
    core = USER_SCHEMA if resource_kind(resource) == USER else GROUP_SCHEMA
    known = _KNOWN_URNS.get(lowered)
    if known is not None:
        return known if known not in (USER_SCHEMA, GROUP_SCHEMA) or known == core else None
    short = SHORT_URNS.get(lowered)
    if short is not None:
        return core if short == USER_SCHEMA else short
    return AXERO_SCHEMA if core == USER_SCHEMA and _company_extension(lowered) else None


def _company_extension(lowered: str) -> bool:
    # OneLogin puts custom attributes under urn:...:extension:{Company}:2.0:User;
    # the company's extension is this product's one.
    parts = lowered.split(":")
    if lowered.startswith("urn:ietf:params:scim:schemas:extension:"):
        return len(parts) == 9 and parts[7:] == ["2.0", "user"]
    if lowered.startswith("urn:scim:schemas:extension:"):
        return len(parts) == 6 and parts[5] in ("1.0", "2.0")
    return False


def split_urn(text: str) -> tuple[str | None, str]:
    """("urn:...:User", "manager.value") from a URN-qualified name; (None, text) otherwise.

    Attribute names never contain ":", so the name is what follows the last one.
    """
    if not text.lower().startswith("urn:"):
        return None, text
    urn, _, name = text.rpartition(":")
    return urn, name
