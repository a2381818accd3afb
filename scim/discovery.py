"""Discovery (RFC 7644 §4): ServiceProviderConfig, ResourceTypes and Schemas.

The schemas describe what the directory really keeps, so a client that round-trips
every published attribute gets back what it sent. The product extension is built from
the CustomField rows on each request: a field defined a moment ago is listed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from scim.attributes import AXERO_SCHEMA, ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA
from scim.render import base_url
from users.models import CustomField, CustomFieldType

SPC_SCHEMA: Final = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE_SCHEMA: Final = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA_SCHEMA: Final = "urn:ietf:params:scim:schemas:core:2.0:Schema"
MAX_OPERATIONS: Final = 1000
MAX_RESULTS: Final = 1000


def _attr(
    name: str,
    type: str = "string",
    *,
    description: str = "",
    multi: bool = False,
    required: bool = False,
    case_exact: bool = False,
    mutability: str = "readWrite",
    returned: str = "default",
    uniqueness: str = "none",
    sub: Iterable[dict[str, Any]] | None = None,
    canonical: list[Any] | None = None,
    refs: list[str] | None = None,
) -> dict[str, Any]:
    attr: dict[str, Any] = {
        "name": name,
        "type": type,
        "multiValued": multi,
        "description": description or name,
        "required": required,
        "caseExact": case_exact,
        "mutability": mutability,
        "returned": returned,
        "uniqueness": uniqueness,
    }
    if sub is not None:
        attr["subAttributes"] = list(sub)
    if canonical is not None:
        attr["canonicalValues"] = canonical
    if refs is not None:
        attr["referenceTypes"] = refs
    return attr


def _ro(name: str, type: str = "string", **extra: Any) -> dict[str, Any]:
    return _attr(name, type, mutability="readOnly", **extra)


def _user_attributes() -> list[dict[str, Any]]:
    return [
        _attr(
            "userName",
            required=True,
            uniqueness="server",
            description="Unique identifier for the user; compared case-insensitively.",
        ),
        _attr(
            "name",
            "complex",
            sub=[
                _attr("givenName", description="First name."),
                _attr("familyName", description="Last name."),
            ],
        ),
        _attr("displayName"),
        _attr("title"),
        # Every account has an administrative state (true unless a client sends false),
        # so the attribute is always present and cannot be removed.
        _attr(
            "active",
            "boolean",
            required=True,
            description="false deactivates the user and ends their sessions; true by "
            "default when a new user's request leaves it out.",
        ),
        _attr(
            "emails",
            "complex",
            multi=True,
            description="The directory keeps one email: the one sent as primary, else "
            "the work one, else the first. It is returned without 'primary': a value the "
            "directory does not keep is not echoed.",
            sub=[
                _attr("value"),
                _attr("type", canonical=["work"]),
            ],
        ),
        _attr(
            "photos",
            "complex",
            multi=True,
            description="The directory keeps one photo URL and fetches the image.",
            sub=[
                _attr("value", "reference", refs=["external"], case_exact=True),
                _attr("type", canonical=["photo"]),
            ],
        ),
        _ro(
            "groups",
            "complex",
            multi=True,
            returned="request",
            description="Every role the user holds, from any source; returned when "
            "asked for with attributes=groups (identity providers read /Groups).",
            sub=[
                _ro("value"),
                _ro("$ref", "reference", refs=["Group"], case_exact=True),
                _ro("display"),
                _ro("type", canonical=["direct"]),
            ],
        ),
    ]


def _enterprise_attributes() -> list[dict[str, Any]]:
    return [
        _attr("employeeNumber"),
        _attr("costCenter"),
        _attr("organization"),
        _attr("division"),
        _attr("department"),
        _attr(
            "manager",
            "complex",
            description="Resolved by id, then externalId, then userName; linked later "
            "when the manager does not exist yet.",
            sub=[
                _attr("value", description="The manager's id (or external id or userName)."),
                _attr("$ref", "reference", refs=["User"], case_exact=True),
            ],
        ),
    ]


_CUSTOM_TYPES: Final = {
    CustomFieldType.STRING: ("string", False),
    CustomFieldType.DATE: ("dateTime", False),
    CustomFieldType.NUMBER: ("decimal", False),
    CustomFieldType.BOOLEAN: ("boolean", False),
    CustomFieldType.LIST: ("string", True),
}


def _axero_attributes(fields: Iterable[CustomField]) -> list[dict[str, Any]]:
    attributes = [
        _attr(
            "hireDate",
            "dateTime",
            description="Hire date and time, kept as sent (a date alone is midnight UTC); "
            "filters, sorting and persona rules use its calendar day.",
        )
    ]
    for field in fields:
        type_, multi = _CUSTOM_TYPES[CustomFieldType(field.type)]
        attributes.append(_attr(field.key, type_, multi=multi, description=field.label))
    return attributes


def _group_attributes() -> list[dict[str, Any]]:
    return [
        _attr("displayName", required=True, uniqueness="server"),
        _attr(
            "members",
            "complex",
            multi=True,
            description="Members this identity provider granted (roles granted by SAML "
            "or by an admin are not listed and survive a replace).",
            sub=[
                _attr("value", mutability="immutable", case_exact=True),
                _attr("$ref", "reference", mutability="immutable", refs=["User"], case_exact=True),
                _attr("type", mutability="immutable", canonical=["User"]),
            ],
        ),
    ]


def _meta_attrs() -> list[dict[str, Any]]:
    return [
        _ro("id", returned="always", case_exact=True),
        _ro("name"),
        _ro("description"),
    ]


def _core_discovery_schemas() -> list[tuple[str, str, str, list[dict[str, Any]]]]:
    sub_attr = [
        _ro("name", required=True, case_exact=True),
        _ro("type", required=True),
        _ro("multiValued", "boolean", required=True),
        _ro("description"),
        _ro("required", "boolean"),
        _ro("canonicalValues", multi=True),
        _ro("caseExact", "boolean"),
        _ro("mutability"),
        _ro("returned"),
        _ro("uniqueness"),
        _ro("referenceTypes", multi=True),
    ]
    feature = [_ro("supported", "boolean", required=True)]
    return [
        (
            SCHEMA_SCHEMA,
            "Schema",
            "Specifies the schema attributes",
            [
                *_meta_attrs(),
                _ro(
                    "attributes",
                    "complex",
                    multi=True,
                    required=True,
                    sub=[*sub_attr, _ro("subAttributes", "complex", multi=True, sub=sub_attr)],
                ),
            ],
        ),
        (
            RESOURCE_TYPE_SCHEMA,
            "ResourceType",
            "Specifies the schema that describes a SCIM resource type",
            [
                _ro("id", case_exact=True),
                _ro("name", required=True),
                _ro("description"),
                _ro("endpoint", "reference", required=True, refs=["uri"]),
                _ro("schema", "reference", required=True, case_exact=True, refs=["uri"]),
                _ro(
                    "schemaExtensions",
                    "complex",
                    multi=True,
                    sub=[
                        _ro("schema", "reference", required=True, case_exact=True, refs=["uri"]),
                        _ro("required", "boolean", required=True),
                    ],
                ),
            ],
        ),
        (
            SPC_SCHEMA,
            "ServiceProviderConfig",
            "Schema for representing the service provider's configuration",
            [
                _ro("documentationUri", "reference", refs=["external"]),
                _ro("patch", "complex", required=True, sub=feature),
                _ro(
                    "bulk",
                    "complex",
                    required=True,
                    sub=[
                        *feature,
                        _ro("maxOperations", "integer", required=True),
                        _ro("maxPayloadSize", "integer", required=True),
                    ],
                ),
                _ro(
                    "filter",
                    "complex",
                    required=True,
                    sub=[
                        *feature,
                        _ro("maxResults", "integer", required=True),
                    ],
                ),
                _ro("changePassword", "complex", required=True, sub=feature),
                _ro("sort", "complex", required=True, sub=feature),
                _ro("etag", "complex", required=True, sub=feature),
                _ro(
                    "authenticationSchemes",
                    "complex",
                    multi=True,
                    required=True,
                    sub=[
                        _ro("type", required=True),
                        _ro("name", required=True),
                        _ro("description", required=True),
                        _ro("specUri", "reference", refs=["external"]),
                        _ro("documentationUri", "reference", refs=["external"]),
                        _ro("primary", "boolean"),
                    ],
                ),
            ],
        ),
    ]


def _schema(
    urn: str, name: str, description: str, attributes: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "schemas": [SCHEMA_SCHEMA],
        "id": urn,
        "name": name,
        "description": description,
        "attributes": attributes,
        "meta": {"resourceType": "Schema", "location": f"{base_url()}/Schemas/{urn}"},
    }


def schemas() -> list[dict[str, Any]]:
    """Every schema, the product extension built from the current custom fields."""
    fields = list(CustomField.objects.order_by("key"))
    return [
        _schema(USER_SCHEMA, "User", "User Account", _user_attributes()),
        _schema(GROUP_SCHEMA, "Group", "Group (a role in the directory)", _group_attributes()),
        _schema(ENTERPRISE_SCHEMA, "EnterpriseUser", "Enterprise User", _enterprise_attributes()),
        _schema(
            AXERO_SCHEMA,
            "AxeroUser",
            "Hire date and the custom profile fields",
            _axero_attributes(fields),
        ),
        *(_schema(*core) for core in _core_discovery_schemas()),
    ]


def resource_types() -> list[dict[str, Any]]:
    return [
        {
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": "User Account",
            "schema": USER_SCHEMA,
            "schemaExtensions": [
                {"schema": ENTERPRISE_SCHEMA, "required": False},
                {"schema": AXERO_SCHEMA, "required": False},
            ],
            "meta": {
                "resourceType": "ResourceType",
                "location": f"{base_url()}/ResourceTypes/User",
            },
        },
        {
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": "Group",
            "name": "Group",
            "endpoint": "/Groups",
            "description": "Group (a role in the directory)",
            "schema": GROUP_SCHEMA,
            "meta": {
                "resourceType": "ResourceType",
                "location": f"{base_url()}/ResourceTypes/Group",
            },
        },
    ]


def service_provider_config(max_payload: int) -> dict[str, Any]:
    return {
        "schemas": [SPC_SCHEMA],
        "documentationUri": f"{base_url().removesuffix('/scim/v2')}/admin/",
        "patch": {"supported": True},
        "bulk": {"supported": True, "maxOperations": MAX_OPERATIONS, "maxPayloadSize": max_payload},
        "filter": {"supported": True, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": False},
        "sort": {"supported": True},
        "etag": {"supported": True},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "Bearer token",
                "description": "A provisioning token from `manage.py scim_token create`.",
                "specUri": "https://www.rfc-editor.org/rfc/rfc6750",
                "primary": True,
            }
        ],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": f"{base_url()}/ServiceProviderConfig",
        },
    }
