"""sso.schema_cache.query: python3-saml's XPath queries, compiled once, same answers."""

from __future__ import annotations

import threading

from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from sso import schema_cache

DOC = etree.fromstring(
    b'<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
    b'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="r1">'
    b'<saml:Assertion ID="a1"><saml:Subject><saml:NameID>ann</saml:NameID></saml:Subject>'
    b"</saml:Assertion>"
    b'<saml:Assertion ID="a2"><saml:Subject><saml:NameID>bob</saml:NameID></saml:Subject>'
    b"</saml:Assertion></samlp:Response>"
)


def _original(dom, query, context=None, tagid=None):
    source = dom if context is None else context
    if tagid is None:
        return source.xpath(query, namespaces=C.NSMAP)
    return source.xpath(query, tagid=tagid, namespaces=C.NSMAP)


def test_python3_saml_uses_the_cached_query():
    assert OneLogin_Saml2_XML.query is schema_cache.query


def test_answers_equal_the_uncached_ones_with_context_and_variables():
    cases = [
        (DOC, "/samlp:Response/saml:Assertion", None, None),
        (DOC, "//saml:NameID/text()", None, None),
        (DOC, "/samlp:Response/saml:Assertion[@ID=$tagid]", None, "a2"),
        (DOC, "./saml:Subject/saml:NameID", DOC[0], None),
        (DOC, "count(//saml:Assertion)", None, None),
    ]
    for dom, query, context, tagid in cases:
        assert schema_cache.query(dom, query, context, tagid) == _original(
            dom, query, context, tagid
        )


def test_the_cache_is_bounded_and_per_thread():
    for n in range(schema_cache._XPATH_LIMIT + 10):
        schema_cache.query(DOC, f"/samlp:Response[@ID='r{n}']")
    assert len(schema_cache._local.xpaths) <= schema_cache._XPATH_LIMIT

    seen: list[int] = []

    def other_thread() -> None:
        schema_cache.query(DOC, "/samlp:Response")
        seen.append(len(schema_cache._local.xpaths))

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    assert seen == [1]
