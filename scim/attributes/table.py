"""The attribute table: one row per SCIM attribute, read by the parser, the filter
compiler, PATCH, rendering and /Schemas (scim.discovery)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scim.attributes.schemas import (
    AXERO_SCHEMA,
    ENTERPRISE_SCHEMA,
    GROUP,
    GROUP_SCHEMA,
    USER,
    USER_SCHEMA,
)
from users.models import CustomField, CustomFieldType

# Kinds of value an attribute holds; the compiler picks its lookups by kind.
STRING = "string"
UUID = "uuid"
BOOLEAN = "boolean"
DATETIME = "datetime"
DATE = "date"
NUMBER = "number"
INTEGER = "integer"  # only in the discovery resources' own schemas
LIST = "list"  # a custom "list of text" field
REFERENCE = "reference"
COMPLEX = "complex"

# The RFC 7643 §7 "type" /Schemas publishes for each kind. A date is published as
# dateTime: clients send and get back a full timestamp (a date alone is midnight UTC).
SCIM_TYPES = {
    STRING: "string",
    UUID: "string",
    BOOLEAN: "boolean",
    DATETIME: "dateTime",
    DATE: "dateTime",
    NUMBER: "decimal",
    INTEGER: "integer",
    LIST: "string",
    REFERENCE: "reference",
    COMPLEX: "complex",
}


@dataclass(frozen=True)
class AttrSpec:
    """What one canonical attribute is, where the directory keeps it, and how /Schemas
    describes it.

    `column` is the model field (or a `__` path) for stored single values; None for
    complex attributes, fixed values and attributes the directory does not keep.
    `fixed` holds the value a sub-attribute always has (emails.type is "work"); /Schemas
    publishes it as the attribute's canonicalValues. `listed` is False for attributes
    accepted but not published: the common attributes (RFC 7643 §3.1 keeps them out of
    the schemas), values the directory drops, and ones it computes or echoes.
    """

    key: str
    name: str
    schema: str
    kind: str
    column: str | None = None
    case_exact: bool = False
    multi_valued: bool = False
    sub_attrs: tuple[str, ...] = ()
    stored: bool = True
    filterable: bool = True
    fixed: tuple[Any, ...] | None = None
    custom_type: str | None = None
    listed: bool = True
    required: bool = False
    mutability: str = "readWrite"
    returned: str = "default"
    uniqueness: str = "none"
    reference_types: tuple[str, ...] = ()
    description: str = ""

    @property
    def sortable(self) -> bool:
        """Single-valued, stored, and not inside a multi-valued attribute."""
        parent = self.key.rsplit(".", 1)[0] if "." in self.key else None
        return (
            self.stored
            and self.filterable
            and not self.multi_valued
            and self.kind not in (COMPLEX, LIST)
            and parent not in _MULTI_VALUED
        )

    @property
    def scim_type(self) -> str:
        return SCIM_TYPES[self.kind]


def _spec(key: str, name: str, kind: str, column: str | None = None, **extra: Any) -> AttrSpec:
    schema = extra.pop("schema", USER_SCHEMA)
    return AttrSpec(key=key, name=name, schema=schema, kind=kind, column=column, **extra)


def _unstored(key: str, name: str, kind: str = STRING, **extra: Any) -> AttrSpec:
    return _spec(key, name, kind, None, stored=False, listed=False, **extra)


def _common(key: str, name: str, kind: str, column: str | None = None, **extra: Any) -> AttrSpec:
    return _spec(key, name, kind, column, listed=False, **extra)


_ITEM_SUBS = ("value", "type", "primary", "display")
# RFC 7643 §4.1.2: an address has no "value".
_ADDRESS_SUBS = (
    "formatted",
    "streetaddress",
    "locality",
    "region",
    "postalcode",
    "country",
    "type",
    "primary",
)
E, X, G = ENTERPRISE_SCHEMA, AXERO_SCHEMA, GROUP_SCHEMA
RO = "readOnly"
_REF_GROUP, _REF_USER, _REF_EXTERNAL = ("Group",), ("User",), ("external",)

# One row per attribute, kept one line each so the table reads as a table; the rows of
# a complex attribute's sub-attributes are in the order /Schemas lists them.
# fmt: off
_META = (
    _common("meta", "meta", COMPLEX, sub_attrs=("created", "lastmodified", "resourcetype", "version", "location")),
    _common("meta.created", "created", DATETIME, "created_at"),
    _common("meta.lastmodified", "lastModified", DATETIME, "updated_at"),
    _common("meta.version", "version", STRING, "version", case_exact=True, filterable=False),
    _common("meta.location", "location", REFERENCE, None, case_exact=True, filterable=False),
)

_USER_SPECS: tuple[AttrSpec, ...] = (
    _common("schemas", "schemas", REFERENCE, None, multi_valued=True, case_exact=True, filterable=False),
    _common("id", "id", UUID, "id", case_exact=True),
    _common("externalid", "externalId", STRING, "external_id", case_exact=True),
    _spec("username", "userName", STRING, "username", required=True, uniqueness="server", description="Unique identifier for the user; compared case-insensitively."),
    _spec("name", "name", COMPLEX, sub_attrs=("formatted", "familyname", "givenname", "middlename", "honorificprefix", "honorificsuffix")),
    _spec("name.formatted", "formatted", STRING, None, listed=False),  # first and last name, computed
    _spec("name.givenname", "givenName", STRING, "first_name", description="First name."),
    _spec("name.familyname", "familyName", STRING, "last_name", description="Last name."),
    _unstored("name.middlename", "middleName"),
    _unstored("name.honorificprefix", "honorificPrefix"),
    _unstored("name.honorificsuffix", "honorificSuffix"),
    _spec("displayname", "displayName", STRING, "display_name"),
    _unstored("nickname", "nickName"),
    _unstored("profileurl", "profileUrl", REFERENCE),
    _spec("title", "title", STRING, "title"),
    _unstored("usertype", "userType"),
    _unstored("preferredlanguage", "preferredLanguage"),
    _unstored("locale", "locale"),
    _unstored("timezone", "timezone"),
    # Every account has an administrative state (true unless a client sends false),
    # so the attribute is always present and cannot be removed.
    _spec("active", "active", BOOLEAN, "is_active", required=True, description="false deactivates the user and ends their sessions; true by default when a new user's request leaves it out."),
    # Accepted and dropped: sign-in is SAML's (changePassword is not supported).
    _spec("password", "password", STRING, None, filterable=False, case_exact=True, listed=False),
    # The directory keeps one (work) email: every filter on emails reads that column.
    _spec("emails", "emails", COMPLEX, multi_valued=True, sub_attrs=_ITEM_SUBS, description="The directory keeps one email: the one sent as primary, else the work one, else the first. It is returned without 'primary': a value the directory does not keep is not echoed."),
    _spec("emails.value", "value", STRING, "email"),
    _spec("emails.display", "display", STRING, "email", listed=False),
    _spec("emails.type", "type", STRING, None, fixed=("work",)),
    _spec("emails.primary", "primary", BOOLEAN, None, fixed=(True,), listed=False),
    # One photo URL, likewise.
    _spec("photos", "photos", COMPLEX, multi_valued=True, sub_attrs=_ITEM_SUBS, description="The directory keeps one photo URL and fetches the image."),
    _spec("photos.value", "value", REFERENCE, "photo_url", case_exact=True, reference_types=_REF_EXTERNAL),
    _spec("photos.display", "display", STRING, None, stored=False, listed=False),
    _spec("photos.type", "type", STRING, None, fixed=("photo",)),
    _spec("photos.primary", "primary", BOOLEAN, None, fixed=(True,), listed=False),
    # Read-only: the roles the user is a member of, from any source.
    _spec("groups", "groups", COMPLEX, multi_valued=True, sub_attrs=("value", "display", "type", "$ref"), mutability=RO, returned="request", description="Every role the user holds, from any source; returned when asked for with attributes=groups (identity providers read /Groups)."),
    _spec("groups.value", "value", UUID, "role_id", case_exact=True, mutability=RO),
    _spec("groups.$ref", "$ref", REFERENCE, None, case_exact=True, filterable=False, mutability=RO, reference_types=_REF_GROUP),
    _spec("groups.display", "display", STRING, "role__display_name", mutability=RO),
    _spec("groups.type", "type", STRING, None, fixed=("direct",), mutability=RO),
    *(
        _unstored(name.lower(), name, COMPLEX, multi_valued=True, sub_attrs=_ITEM_SUBS)
        for name in ("phoneNumbers", "ims", "entitlements", "roles", "x509Certificates")
    ),
    # Entra's default mapping PATCHes addresses[type eq "work"].streetAddress and the like.
    _unstored("addresses", "addresses", COMPLEX, multi_valued=True, sub_attrs=_ADDRESS_SUBS),
    *_META,
    _common("meta.resourcetype", "resourceType", STRING, None, case_exact=True, fixed=(USER,)),
    # Enterprise extension.
    _spec("enterprise:employeenumber", "employeeNumber", STRING, "employee_number", schema=E),
    _spec("enterprise:costcenter", "costCenter", STRING, "cost_center", schema=E),
    _spec("enterprise:organization", "organization", STRING, "organization", schema=E),
    _spec("enterprise:division", "division", STRING, "division", schema=E),
    _spec("enterprise:department", "department", STRING, "department", schema=E),
    _spec("enterprise:manager", "manager", COMPLEX, schema=E, sub_attrs=("value", "$ref", "displayname"), description="Resolved by id, then externalId, then userName; linked later when the manager does not exist yet."),
    _spec("enterprise:manager.value", "value", UUID, "manager_id", schema=E, case_exact=True, description="The manager's id (or external id or userName)."),
    _spec("enterprise:manager.$ref", "$ref", REFERENCE, None, schema=E, case_exact=True, filterable=False, reference_types=_REF_USER),
    _spec("enterprise:manager.displayname", "displayName", STRING, "manager__display_name", schema=E, listed=False),
    # Product extension (custom fields are added per definition: custom_attr_spec).
    _spec("axero:hiredate", "hireDate", DATE, "hire_date", schema=X, description="Hire date and time, kept as sent (a date alone is midnight UTC); filters, sorting and persona rules use its calendar day."),
)

_GROUP_SPECS: tuple[AttrSpec, ...] = (
    _common("schemas", "schemas", REFERENCE, None, schema=G, multi_valued=True, case_exact=True, filterable=False),
    _common("id", "id", UUID, "id", schema=G, case_exact=True),
    _common("externalid", "externalId", STRING, "external_id", schema=G, case_exact=True),
    _spec("displayname", "displayName", STRING, "display_name", schema=G, required=True, uniqueness="server"),
    _spec("members", "members", COMPLEX, schema=G, multi_valued=True, sub_attrs=("value", "display", "type", "$ref"), description="Members this identity provider granted (roles granted by SAML or by an admin are not listed and survive a replace)."),
    _spec("members.value", "value", UUID, "user_id", schema=G, case_exact=True, mutability="immutable"),
    _spec("members.$ref", "$ref", REFERENCE, None, schema=G, case_exact=True, filterable=False, mutability="immutable", reference_types=_REF_USER),
    _spec("members.type", "type", STRING, None, schema=G, fixed=(USER,), mutability="immutable"),
    _spec("members.display", "display", STRING, None, schema=G, listed=False),
    *(AttrSpec(**{**spec.__dict__, "schema": G}) for spec in _META),
    _common("meta.resourcetype", "resourceType", STRING, None, schema=G, case_exact=True, fixed=(GROUP,)),
)
# fmt: on

USER_ATTRIBUTES: dict[str, AttrSpec] = {spec.key: spec for spec in _USER_SPECS}
GROUP_ATTRIBUTES: dict[str, AttrSpec] = {spec.key: spec for spec in _GROUP_SPECS}
_MULTI_VALUED = {spec.key for spec in (*_USER_SPECS, *_GROUP_SPECS) if spec.multi_valued}

_CUSTOM_KINDS = {
    CustomFieldType.STRING: STRING,
    CustomFieldType.DATE: DATE,
    CustomFieldType.NUMBER: NUMBER,
    CustomFieldType.BOOLEAN: BOOLEAN,
    CustomFieldType.LIST: LIST,
}


def custom_attr_spec(field: CustomField) -> AttrSpec:
    """The product-extension attribute of one custom field."""
    kind = _CUSTOM_KINDS[CustomFieldType(field.type)]
    return AttrSpec(
        key=f"axero:{field.key}",
        name=field.key,
        schema=AXERO_SCHEMA,
        kind=kind,
        column=f"custom__{field.key}",
        # List elements are matched by JSON containment (the GIN index), which is exact.
        case_exact=kind == LIST,
        multi_valued=kind == LIST,
        custom_type=field.type,
        description=field.label,
    )
