"""Compile python3-saml's XSD schemas once per thread instead of once per message.

python3-saml's OneLogin_Saml2_XML.validate_xml opens, parses and compiles the SAML
protocol schema (and its imports) on every response it validates: most of the cost of
an ACS call. This replacement validates against the very same schema files with the
very same result; only the compiled schema object is reused. lxml schema objects are
not shared across threads, so the cache is per thread.
"""

from __future__ import annotations

import threading
from os.path import dirname, join
from typing import Any

from lxml import etree
from onelogin.saml2 import xml_utils
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

_local = threading.local()
_SCHEMA_DIR = join(dirname(xml_utils.__file__), "schemas")


def _schema(name: str) -> etree.XMLSchema:
    schemas: dict[str, etree.XMLSchema] = getattr(_local, "schemas", None) or {}
    _local.schemas = schemas
    compiled = schemas.get(name)
    if compiled is None:
        with open(join(_SCHEMA_DIR, name)) as f_schema:
            compiled = etree.XMLSchema(etree.parse(f_schema))
        schemas[name] = compiled
    return compiled


def validate_xml(xml: Any, schema: str, debug: bool = False) -> Any:
    """Drop-in for OneLogin_Saml2_XML.validate_xml (same return values)."""
    try:
        xml = OneLogin_Saml2_XML.to_etree(xml)
    except Exception:
        return "unloaded_xml"
    if not _schema(schema).validate(xml):
        return "invalid_xml"
    return xml


def install() -> None:
    OneLogin_Saml2_XML.validate_xml = staticmethod(validate_xml)  # type: ignore[method-assign,assignment]
