"""Compile python3-saml's XSD schemas and XPath queries once per thread, not per message.

python3-saml's OneLogin_Saml2_XML.validate_xml opens, parses and compiles the SAML
protocol schema (and its imports) on every response it validates: most of the cost of
an ACS call. OneLogin_Saml2_XML.query compiles each XPath expression every time it is
asked (dozens per response). These replacements validate against the very same schema
files and evaluate the very same expressions with the same namespaces and variables,
with the same results; only the compiled objects are reused. lxml's compiled objects
are not shared across threads, so the caches are per thread.
"""

from __future__ import annotations

import threading
from os.path import dirname, join
from typing import Any

from lxml import etree
from onelogin.saml2 import xml_utils
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
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


# python3-saml builds its expressions from constants; a few embed an ID, so the
# cache is bounded.
_XPATH_LIMIT = 256


def _xpath(expression: str) -> etree.XPath:
    compiled: dict[str, etree.XPath] = getattr(_local, "xpaths", None) or {}
    _local.xpaths = compiled
    found = compiled.get(expression)
    if found is None:
        if len(compiled) >= _XPATH_LIMIT:
            compiled.clear()
        found = compiled[expression] = etree.XPath(expression, namespaces=C.NSMAP)
    return found


def query(dom: Any, query: str, context: Any = None, tagid: str | None = None) -> Any:
    """Drop-in for OneLogin_Saml2_XML.query (same nodes, same order)."""
    source = dom if context is None else context
    if tagid is None:
        return _xpath(query)(source)
    return _xpath(query)(source, tagid=tagid)


def install() -> None:
    OneLogin_Saml2_XML.validate_xml = staticmethod(validate_xml)  # type: ignore[method-assign,assignment]
    OneLogin_Saml2_XML.query = staticmethod(query)  # type: ignore[method-assign,assignment]
