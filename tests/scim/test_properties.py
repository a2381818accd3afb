"""Property-based tests (issue 15, item 7): the SCIM filter and PATCH path parsers never
fail on any input except with their own error, and the SCIM endpoints answer anything a
client can send with a 2xx or a 4xx RFC 7644 error, never a 5xx."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from axero_idp.errors import ApplicationError
from scim.filters.parser import parse_filter
from scim.paths import parse_path

# Shapes a filter is made of, so generated text reaches deep into the grammar, not only
# the tokenizer's first error.
FILTER_PARTS = st.sampled_from(
    [
        "userName", "emails", "emails.value", "name.givenName", "meta.lastModified",
        "urn:ietf:params:scim:schemas:core:2.0:User:userName", "members", "value",
        " eq ", " ne ", " co ", " sw ", " ew ", " pr", " gt ", " ge ", " lt ", " le ",
        " and ", " or ", "not ", "(", ")", "[", "]", '"a"', '"x\\"y"', "true", "false",
        "null", "1.5", "-3", " ", "\\", '"', "'", ".", ":", "\ud800", "\x00",
    ]
)  # fmt: skip
FILTERS = st.one_of(st.text(max_size=80), st.lists(FILTER_PARTS, max_size=12).map("".join))
FAST = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _outcome(parse) -> str:
    """ "ok", or the scimType of the parser's own error (anything else propagates)."""
    try:
        parse()
    except ApplicationError as exc:
        return str(exc.scim_type)
    return "ok"


@FAST
@given(text=FILTERS, resource=st.sampled_from(["User", "Group"]))
def test_the_filter_parser_answers_any_text_with_a_tree_or_its_own_error(text, resource):
    assert _outcome(lambda: parse_filter(resource, text, custom_fields={})) in (
        "ok",
        "invalidFilter",
    )


@FAST
@given(text=FILTERS, resource=st.sampled_from(["User", "Group"]))
def test_the_patch_path_parser_answers_any_text_with_a_path_or_its_own_error(text, resource):
    outcome = _outcome(lambda: parse_path(resource, text, custom_fields={}))
    assert outcome in ("ok", "invalidPath", "invalidFilter")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
USER_KEYS = st.sampled_from(
    ["userName", "name", "emails", "active", "externalId", "photos", "title", "schemas",
     "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "groups", "id", "meta"]
)  # fmt: skip
USER_BODIES = st.dictionaries(USER_KEYS, JSON, max_size=6).map(
    lambda body: {"userName": "fuzz@example.com", **body}
)
PATCH_BODIES = st.fixed_dictionaries(
    {
        "schemas": st.just(["urn:ietf:params:scim:api:messages:2.0:PatchOp"]),
        "Operations": st.lists(
            st.fixed_dictionaries(
                {"op": st.sampled_from(["add", "replace", "remove", "Add", "bogus"])},
                optional={"path": FILTERS, "value": JSON},
            ),
            max_size=3,
        ),
    }
)


def _assert_scim_answer(response) -> None:
    assert response.status_code < 500, response.content[:500]
    if response.status_code >= 400:
        body = response.json()
        assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
        assert body["status"] == str(response.status_code)


@pytest.mark.django_db
@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=USER_BODIES)
def test_any_user_body_gets_a_2xx_or_an_rfc7644_error(scim, body):
    response = scim.post("/Users", body)

    _assert_scim_answer(response)
    if response.status_code == 201:
        assert scim.delete(f"/Users/{response.json()['id']}").status_code == 204


@pytest.mark.django_db
@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=PATCH_BODIES, query=FILTERS)
def test_any_patch_or_filter_gets_a_2xx_or_an_rfc7644_error(scim, body, query):
    # A URL cannot carry a lone surrogate (Django decodes one as U+FFFD); in a JSON
    # body it can, and test_input_hardening covers that.
    assume(not any(0xD800 <= ord(ch) <= 0xDFFF for ch in query))
    created = scim.post("/Users", {"userName": "target@example.com"})
    assert created.status_code == 201, created.content
    user_id = created.json()["id"]
    try:
        _assert_scim_answer(
            scim.client.get("/scim/v2/Users", {"filter": query}, **scim._headers(None))
        )
        _assert_scim_answer(scim.patch(f"/Users/{user_id}", body))
    finally:
        scim.delete(f"/Users/{user_id}")
