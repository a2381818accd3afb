"""SCIM test helpers: a provisioning token and a client that speaks application/scim+json."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

BASE = "/scim/v2"
SCIM_JSON = "application/scim+json"


class ScimClient:
    """Django's test client with the bearer token and JSON bodies filled in."""

    def __init__(self, token: str | None, client: Client | None = None) -> None:
        self.token = token
        self.client = client or Client()

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        out = {"HTTP_AUTHORIZATION": f"Bearer {self.token}"} if self.token else {}
        for name, value in (headers or {}).items():
            out["HTTP_" + name.upper().replace("-", "_")] = value
        return out

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        url = path if path.startswith("/") and path.startswith(BASE) else BASE + path
        data = raw if raw is not None else (json.dumps(body) if body is not None else "")
        handler = getattr(self.client, method.lower())
        if method.upper() == "GET":
            return handler(url, **self._headers(headers))
        return handler(url, data=data, content_type=SCIM_JSON, **self._headers(headers))

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("POST", path, body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("PUT", path, body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("PATCH", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.request("DELETE", path, **kw)


@pytest.fixture
def scim_token(provisioning_token) -> str:
    return provisioning_token


@pytest.fixture
def scim(scim_token) -> ScimClient:
    return ScimClient(scim_token)


def error(status: int, detail: str, scim_type: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": str(status),
    }
    if scim_type:
        body["scimType"] = scim_type
    body["detail"] = detail
    return body


USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
AXERO = "urn:ietf:params:scim:schemas:extension:axero:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
