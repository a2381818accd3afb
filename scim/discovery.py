"""Discovery (RFC 7644 §4): ServiceProviderConfig, ResourceTypes and Schemas.

The schemas are generated from the attribute table the parser and the filter compiler
read (scim.attributes.table), so /Schemas says what the server really does: a client
that round-trips every published attribute gets back what it sent. The product
extension is built from the CustomField rows on each request: a field defined a moment
ago is listed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any, Final

from scim.attributes import (
    AXERO_SCHEMA,
    BOOLEAN,
    COMPLEX,
    ENTERPRISE_SCHEMA,
    GROUP,
    GROUP_SCHEMA,
    INTEGER,
    REFERENCE,
    STRING,
    USER,
    USER_SCHEMA,
    AttrSpec,
    attributes_of,
    custom_attr_spec,
)
from scim.render import base_url
from users.models import CustomField

SPC_SCHEMA: Final = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE_SCHEMA: Final = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA_SCHEMA: Final = "urn:ietf:params:scim:schemas:core:2.0:Schema"
MAX_OPERATIONS: Final = 1000
MAX_RESULTS: Final = 1000


def _ro(key: str, name: str, kind: str = STRING, **extra: Any) -> AttrSpec:
    # The discovery resources' own attributes: published, never written by a client.
    return AttrSpec(key=key, name=name, schema="", kind=kind, mutability="readOnly", **extra)


def _attribute_properties(prefix: str) -> tuple[AttrSpec, ...]:
    """The rows describing an attribute definition (RFC 7643 §7), under `prefix`."""
    return (
        _ro(f"{prefix}.name", "name", required=True, case_exact=True),
        _ro(f"{prefix}.type", "type", required=True),
        _ro(f"{prefix}.multivalued", "multiValued", BOOLEAN, required=True),
        _ro(f"{prefix}.description", "description"),
        _ro(f"{prefix}.required", "required", BOOLEAN),
        _ro(f"{prefix}.canonicalvalues", "canonicalValues", multi_valued=True),
        _ro(f"{prefix}.caseexact", "caseExact", BOOLEAN),
        _ro(f"{prefix}.mutability", "mutability"),
        _ro(f"{prefix}.returned", "returned"),
        _ro(f"{prefix}.uniqueness", "uniqueness"),
        _ro(f"{prefix}.referencetypes", "referenceTypes", multi_valued=True),
    )


def _supported(key: str, name: str, *more: AttrSpec) -> tuple[AttrSpec, ...]:
    """A ServiceProviderConfig feature: a complex attribute with `supported` first."""
    return (
        _ro(key, name, COMPLEX, required=True),
        _ro(f"{key}.supported", "supported", BOOLEAN, required=True),
        *more,
    )


_URI, _EXTERNAL = ("uri",), ("external",)
# The schemas of the discovery resources themselves, in the same rows as the User and
# Group attributes (nothing parses these resources, so they live here, not beside them).
# fmt: off
_SCHEMA_SPECS: Final = (
    _ro("id", "id", returned="always", case_exact=True),
    _ro("name", "name"),
    _ro("description", "description"),
    _ro("attributes", "attributes", COMPLEX, multi_valued=True, required=True),
    *_attribute_properties("attributes"),
    _ro("attributes.subattributes", "subAttributes", COMPLEX, multi_valued=True),
    *_attribute_properties("attributes.subattributes"),
)
_RESOURCE_TYPE_SPECS: Final = (
    _ro("id", "id", case_exact=True),
    _ro("name", "name", required=True),
    _ro("description", "description"),
    _ro("endpoint", "endpoint", REFERENCE, required=True, reference_types=_URI),
    _ro("schema", "schema", REFERENCE, required=True, case_exact=True, reference_types=_URI),
    _ro("schemaextensions", "schemaExtensions", COMPLEX, multi_valued=True),
    _ro("schemaextensions.schema", "schema", REFERENCE, required=True, case_exact=True, reference_types=_URI),
    _ro("schemaextensions.required", "required", BOOLEAN, required=True),
)
_SPC_SPECS: Final = (
    _ro("documentationuri", "documentationUri", REFERENCE, reference_types=_EXTERNAL),
    *_supported("patch", "patch"),
    *_supported(
        "bulk", "bulk",
        _ro("bulk.maxoperations", "maxOperations", INTEGER, required=True),
        _ro("bulk.maxpayloadsize", "maxPayloadSize", INTEGER, required=True),
    ),
    *_supported("filter", "filter", _ro("filter.maxresults", "maxResults", INTEGER, required=True)),
    *_supported("changepassword", "changePassword"),
    *_supported("sort", "sort"),
    *_supported("etag", "etag"),
    _ro("authenticationschemes", "authenticationSchemes", COMPLEX, multi_valued=True, required=True),
    _ro("authenticationschemes.type", "type", required=True),
    _ro("authenticationschemes.name", "name", required=True),
    _ro("authenticationschemes.description", "description", required=True),
    _ro("authenticationschemes.specuri", "specUri", REFERENCE, reference_types=_EXTERNAL),
    _ro("authenticationschemes.documentationuri", "documentationUri", REFERENCE, reference_types=_EXTERNAL),
    _ro("authenticationschemes.primary", "primary", BOOLEAN),
)
# fmt: on


def _definition(spec: AttrSpec, children: Mapping[str, list[AttrSpec]]) -> dict[str, Any]:
    """The RFC 7643 §7 attribute definition of one table row."""
    attr: dict[str, Any] = {
        "name": spec.name,
        "type": spec.scim_type,
        "multiValued": spec.multi_valued,
        "description": spec.description or spec.name,
        "required": spec.required,
        "caseExact": spec.case_exact,
        "mutability": spec.mutability,
        "returned": spec.returned,
        "uniqueness": spec.uniqueness,
    }
    if spec.key in children:
        attr["subAttributes"] = [_definition(sub, children) for sub in children[spec.key]]
    if spec.fixed is not None:
        attr["canonicalValues"] = list(spec.fixed)
    if spec.reference_types:
        attr["referenceTypes"] = list(spec.reference_types)
    return attr


def schema_attributes(specs: Iterable[AttrSpec]) -> list[dict[str, Any]]:
    """The published attributes of a schema from its table rows, sub-attributes nested."""
    children: dict[str, list[AttrSpec]] = defaultdict(list)
    for spec in specs:
        if spec.listed:
            parent, dot, _ = spec.key.rpartition(".")
            children[parent if dot else ""].append(spec)
    return [_definition(spec, children) for spec in children.pop("", [])]


def _rows_of(resource: str, schema: str) -> list[AttrSpec]:
    return [spec for spec in attributes_of(resource).values() if spec.schema == schema]


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


_USER_DESCRIPTION: Final = "User Account"
_GROUP_DESCRIPTION: Final = "Group (a role in the directory)"


def schemas() -> list[dict[str, Any]]:
    """Every schema, the product extension built from the current custom fields."""
    custom = [custom_attr_spec(field) for field in CustomField.objects.order_by("key")]
    return [
        _schema(
            USER_SCHEMA, USER, _USER_DESCRIPTION, schema_attributes(_rows_of(USER, USER_SCHEMA))
        ),
        _schema(
            GROUP_SCHEMA,
            GROUP,
            _GROUP_DESCRIPTION,
            schema_attributes(_rows_of(GROUP, GROUP_SCHEMA)),
        ),
        _schema(
            ENTERPRISE_SCHEMA,
            "EnterpriseUser",
            "Enterprise User",
            schema_attributes(_rows_of(USER, ENTERPRISE_SCHEMA)),
        ),
        _schema(
            AXERO_SCHEMA,
            "AxeroUser",
            "Hire date and the custom profile fields",
            schema_attributes([*_rows_of(USER, AXERO_SCHEMA), *custom]),
        ),
        _schema(
            SCHEMA_SCHEMA,
            "Schema",
            "Specifies the schema attributes",
            schema_attributes(_SCHEMA_SPECS),
        ),
        _schema(
            RESOURCE_TYPE_SCHEMA,
            "ResourceType",
            "Specifies the schema that describes a SCIM resource type",
            schema_attributes(_RESOURCE_TYPE_SPECS),
        ),
        _schema(
            SPC_SCHEMA,
            "ServiceProviderConfig",
            "Schema for representing the service provider's configuration",
            schema_attributes(_SPC_SPECS),
        ),
    ]


def _resource_type(resource: str, endpoint: str, core: str, description: str) -> dict[str, Any]:
    # The extensions are the other schemas the resource's table rows belong to.
    extensions = dict.fromkeys(spec.schema for spec in attributes_of(resource).values())
    extensions.pop(core)
    body: dict[str, Any] = {
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": resource,
        "name": resource,
        "endpoint": endpoint,
        "description": description,
        "schema": core,
    }
    if extensions:
        body["schemaExtensions"] = [{"schema": urn, "required": False} for urn in extensions]
    body["meta"] = {
        "resourceType": "ResourceType",
        "location": f"{base_url()}/ResourceTypes/{resource}",
    }
    return body


def resource_types() -> list[dict[str, Any]]:
    return [
        _resource_type(USER, "/Users", USER_SCHEMA, _USER_DESCRIPTION),
        _resource_type(GROUP, "/Groups", GROUP_SCHEMA, _GROUP_DESCRIPTION),
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
