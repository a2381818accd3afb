"""Schema-driven fuzz of the SCIM endpoints (issue 15, item 7), against the real app and
database through Django's test client: bodies, PATCH paths and filters are generated
from what /Schemas and /ResourceTypes publish (tests/fuzz/schema_strategies.py), valid
and mutated. Every answer is a 2xx or an RFC 7644 error (never a 5xx), and a valid
create, PUT or PATCH round-trips: GET returns what was written, for every attribute the
schema says is writable and returned.

Bounded for CI: `max_examples` per test (FUZZ_EXAMPLES multiplies them for a longer run
by hand), and derandomized under CI=true so a failure there reproduces with the same
examples; Hypothesis prints the failing example's reproduction either way."""

from __future__ import annotations

import datetime as dt
import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.schema_strategies import (
    ERROR_SCHEMA,
    GROUP_SCHEMA,
    REFERENCES,
    SCIM_TYPES,
    USER_SCHEMA,
    Attribute,
    attributes,
    filter_text,
    mutated,
    patch_body,
    resource_body,
)
from tests.scim.conftest import ScimClient

pytestmark = pytest.mark.django_db

SCALE = max(1, int(os.environ.get("FUZZ_EXAMPLES", "1")))


def bounded(examples: int) -> Any:
    return settings(
        max_examples=examples * SCALE,
        deadline=None,
        derandomize=os.environ.get("CI") == "true",
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )


class Schema:
    """What the server publishes about itself, read once per test."""

    def __init__(self, scim: ScimClient) -> None:
        schemas = scim.get("/Schemas").json()["Resources"]
        types = {t["name"]: t for t in scim.get("/ResourceTypes").json()["Resources"]}
        self.extensions = {
            name: [e["schema"] for e in t.get("schemaExtensions", [])] for name, t in types.items()
        }
        self.user = attributes(schemas, USER_SCHEMA, self.extensions["User"])
        self.group = attributes(schemas, GROUP_SCHEMA, self.extensions["Group"])

    def user_body(self) -> st.SearchStrategy[dict[str, Any]]:
        return resource_body(self.user, schemas=[USER_SCHEMA], unique="userName")

    def group_body(self) -> st.SearchStrategy[dict[str, Any]]:
        return resource_body(self.group, schemas=[GROUP_SCHEMA], unique="displayName")


@pytest.fixture
def schema(scim) -> Schema:
    return Schema(scim)


def assert_scim_answer(response) -> Any:
    """A 2xx, or a 4xx with the RFC 7644 §3.12 error body; never a 5xx."""
    assert response.status_code < 500, (response.status_code, response.content[:600])
    if response.status_code < 400:
        return response.json() if response.content else None
    assert response["Content-Type"].startswith("application/scim+json"), response["Content-Type"]
    body = response.json()
    assert body["schemas"] == [ERROR_SCHEMA], body
    assert body["status"] == str(response.status_code), body
    assert isinstance(body.get("detail"), str) and body["detail"], body
    assert body.get("scimType", "invalidValue") in SCIM_TYPES, body
    return body


# -- round trips ----------------------------------------------------------------------


def _instant(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    return value


def _same(sent: Any, got: Any, spec: dict[str, Any]) -> bool:
    if spec.get("multiValued"):
        # The directory may keep fewer values than were sent (its /Schemas description
        # says which: one email, one photo); each one it returns was sent.
        single = {**spec, "multiValued": False}
        returned = list(got or [])
        return bool(returned) and all(
            any(_same(item, g, single) for item in sent) for g in returned
        )
    if spec.get("type") == "complex":
        subs = {s["name"]: s for s in spec.get("subAttributes", [])}
        return isinstance(got, dict) and all(
            _same(v, got.get(k), subs.get(k, {})) for k, v in sent.items()
        )
    if spec.get("type") == "dateTime":
        return _instant(sent) == _instant(got)
    return bool(sent == got)


def assert_round_trip(sent: dict[str, Any], stored: dict[str, Any], attrs: list[Attribute]) -> None:
    """Every writable, returned attribute that was sent comes back as sent."""
    for attribute in attrs:
        spec = attribute.spec
        if not attribute.writable or spec.get("returned") in ("never", "request"):
            continue
        if attribute.name in REFERENCES:
            continue
        container_sent = sent if attribute.core else sent.get(attribute.schema, {})
        container_got = stored if attribute.core else stored.get(attribute.schema, {})
        if attribute.name not in container_sent:
            continue
        value = container_sent[attribute.name]
        assert _same(value, container_got.get(attribute.name), dict(spec)), (
            attribute.path,
            value,
            container_got.get(attribute.name),
        )


def assert_patch_applied(
    patch: dict[str, Any], stored: dict[str, Any], attrs: list[Attribute]
) -> None:
    """After a 2xx PATCH, each simple single-valued writable attribute the request set
    last (add or replace) holds that value, and one it removed last is gone."""
    simple = {
        a.path: a
        for a in attrs
        if a.writable and a.spec.get("type") != "complex" and not a.spec.get("multiValued")
    }
    last: dict[str, dict[str, Any]] = {}
    for operation in patch["Operations"]:
        if operation.get("path") in simple and str(operation.get("op", "")).lower() in (
            "add",
            "replace",
            "remove",
        ):
            last[operation["path"]] = operation
    for path, operation in last.items():
        attribute = simple[path]
        container = stored if attribute.core else stored.get(attribute.schema, {})
        if operation["op"].lower() == "remove":
            assert container.get(attribute.name) in (None, False, ""), (path, container)
        else:
            got = container.get(attribute.name)
            assert _same(operation["value"], got, dict(attribute.spec)), (path, operation, got)


@bounded(60)
@given(data=st.data())
def test_valid_user_creates_round_trip(scim, schema, data):
    body = data.draw(schema.user_body(), label="body")

    created = scim.post("/Users", body)

    answer = assert_scim_answer(created)
    assert created.status_code == 201, answer
    stored = scim.get(f"/Users/{answer['id']}").json()
    assert stored == answer, "POST answered something else than GET reads"
    assert_round_trip(body, stored, schema.user)


@bounded(30)
@given(data=st.data())
def test_valid_group_creates_round_trip_with_members(scim, schema, data):
    member_ids = [
        scim.post(
            "/Users", {"userName": f"member-{n}-{os.urandom(4).hex()}@fuzz.example.com"}
        ).json()["id"]
        for n in range(data.draw(st.integers(0, 3), label="members"))
    ]
    body = data.draw(schema.group_body(), label="body")
    body["members"] = [{"value": member} for member in member_ids]

    created = scim.post("/Groups", body)

    answer = assert_scim_answer(created)
    assert created.status_code == 201, answer
    stored = scim.get(f"/Groups/{answer['id']}").json()
    assert_round_trip(body, stored, schema.group)
    assert {m["value"] for m in stored.get("members", [])} == set(member_ids)


@bounded(40)
@given(data=st.data())
def test_valid_put_replaces_and_round_trips(scim, schema, data):
    first = data.draw(schema.user_body(), label="first")
    created = scim.post("/Users", first)
    assert created.status_code == 201, created.content
    second = data.draw(schema.user_body(), label="second")

    replaced = scim.put(f"/Users/{created.json()['id']}", second)

    answer = assert_scim_answer(replaced)
    assert replaced.status_code == 200, answer
    stored = scim.get(f"/Users/{answer['id']}").json()
    assert stored == answer
    assert_round_trip(second, stored, schema.user)


# -- mutated bodies ---------------------------------------------------------------------


@bounded(80)
@given(
    data=st.data(),
    method=st.sampled_from(["POST", "PUT"]),
    resource=st.sampled_from(["Users", "Groups"]),
)
def test_mutated_bodies_get_a_2xx_or_an_rfc7644_error(scim, schema, data, method, resource):
    attrs, valid = (
        (schema.user, schema.user_body())
        if resource == "Users"
        else (schema.group, schema.group_body())
    )
    body = data.draw(mutated(valid, attrs), label="body")
    path = f"/{resource}"
    if method == "PUT":
        target = scim.post(path, data.draw(valid, label="target"))
        assert target.status_code == 201, target.content
        path += f"/{target.json()['id']}"

    answer = assert_scim_answer(scim.request(method, path, body))

    if answer is not None and "id" in answer:
        assert scim.get(f"/{resource}/{answer['id']}").json() == answer


@bounded(80)
@given(data=st.data(), resource=st.sampled_from(["Users", "Groups"]), valid=st.booleans())
def test_schema_patches_get_a_2xx_or_an_rfc7644_error_and_answer_what_is_stored(
    scim, schema, data, resource, valid
):
    attrs, body = (
        (schema.user, schema.user_body())
        if resource == "Users"
        else (schema.group, schema.group_body())
    )
    target = scim.post(f"/{resource}", data.draw(body, label="target"))
    assert target.status_code == 201, target.content
    patch = data.draw(patch_body(attrs, valid_only=valid), label="patch")

    response = scim.patch(f"/{resource}/{target.json()['id']}", patch)

    answer = assert_scim_answer(response)
    stored = scim.get(f"/{resource}/{target.json()['id']}").json()
    if response.status_code == 200:
        assert stored == answer, "PATCH answered something else than GET reads"
        if valid:  # a mutated value may be coerced or ignored, as IdP dialects need
            assert_patch_applied(patch, stored, attrs)
    elif response.status_code >= 400:
        # A refused PATCH changes nothing (it runs in one transaction).
        assert stored == target.json() or stored["meta"] == target.json()["meta"]


# -- filters ---------------------------------------------------------------------------


@bounded(80)
@given(data=st.data(), resource=st.sampled_from(["Users", "Groups"]), search=st.booleans())
def test_schema_filters_get_a_list_or_an_rfc7644_error(scim, schema, data, resource, search):
    text = data.draw(
        filter_text(schema.user if resource == "Users" else schema.group), label="filter"
    )

    if search:
        response = scim.post(
            f"/{resource}/.search",
            {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": text},
        )
    else:
        response = scim.client.get(f"/scim/v2/{resource}", {"filter": text}, **scim._headers(None))

    answer = assert_scim_answer(response)
    if response.status_code == 200:
        assert answer["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]
        assert answer["totalResults"] >= len(answer["Resources"])


# -- odd content types, huge and deep documents -----------------------------------------


RAW_BODIES = st.one_of(
    st.binary(max_size=200),
    st.sampled_from(
        [
            b"",
            b"{",
            b"null",
            b"[]",
            b'{"userName": "\xff\xfe"}',
            b'{"userName": "a\\ud800"}',
            b'\xef\xbb\xbf{"userName": "bom@fuzz.example.com"}',
            b'{"userName": "dup@fuzz.example.com", "userName": "dup2@fuzz.example.com"}',
            b'{"a": 1e999999}',
            b'{"a": ' + b"9" * 5000 + b"}",
            b"[" * 100_000 + b"]" * 100_000,
            b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
            json.dumps({"userName": "big@fuzz.example.com", "x": "y" * 2_000_000}).encode(),
            json.dumps({"schemas": [USER_SCHEMA], "userName": "ok@fuzz.example.com"}).encode(),
        ]
    ),
)
CONTENT_TYPES = st.sampled_from(
    [
        "application/scim+json",
        "application/json",
        "application/json; charset=utf-16",
        "application/scim+json; charset=latin-1",
        "text/plain",
        "application/xml",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",
        "",
        "garbage/\x7f",
    ]
)


@bounded(60)
@given(
    raw=RAW_BODIES,
    content_type=CONTENT_TYPES,
    method=st.sampled_from(["post", "put", "patch"]),
    path=st.sampled_from(
        ["/Users", "/Groups", "/Bulk", "/Users/.search", "/Users/{id}", "/Groups/{id}"]
    ),
)
def test_odd_content_types_and_raw_bodies_get_a_2xx_or_an_rfc7644_error(
    scim, raw, content_type, method, path
):
    if "{id}" in path:
        kind = path.split("/")[1]
        body = (
            {"userName": f"t-{os.urandom(4).hex()}@fuzz.example.com"}
            if kind == "Users"
            else {"displayName": f"g-{os.urandom(4).hex()}"}
        )
        target = scim.post(f"/{kind}", body)
        assert target.status_code == 201, target.content
        path = path.replace("{id}", target.json()["id"])

    # generic() sends the bytes as they are (post() would re-encode them to the charset).
    response = scim.client.generic(
        method.upper(),
        f"/scim/v2{path}",
        data=raw,
        content_type=content_type,
        **scim._headers(None),
    )

    assert_scim_answer(response)
