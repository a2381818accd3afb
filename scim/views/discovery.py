"""/ServiceProviderConfig, /ResourceTypes[/{id}], /Schemas[/{urn}] and /Bulk."""

from __future__ import annotations

from typing import Any

from axero_idp.errors import NotFound
from scim import discovery
from scim.bulk import bulk_apply
from scim.render import list_response
from scim.responses import ScimResponse
from scim.views.base import ScimContext, ScimView, max_body_bytes


def _listed(items: list[dict[str, Any]]) -> ScimResponse:
    return ScimResponse(list_response(items, total=len(items), start_index=1))


def _one(items: list[dict[str, Any]], key: str, what: str) -> ScimResponse:
    for item in items:
        if item["id"].lower() == key.lower():
            return ScimResponse(item)
    raise NotFound(f"No {what} {key!r}.")


class ServiceProviderConfigView(ScimView):
    def get(self, ctx: ScimContext) -> ScimResponse:
        return ScimResponse(discovery.service_provider_config(max_body_bytes()))


class ResourceTypesView(ScimView):
    def get(self, ctx: ScimContext, key: str | None = None) -> ScimResponse:
        items = discovery.resource_types()
        return _listed(items) if key is None else _one(items, key, "resource type")


class SchemasView(ScimView):
    def get(self, ctx: ScimContext, key: str | None = None) -> ScimResponse:
        items = discovery.schemas()
        return _listed(items) if key is None else _one(items, key, "schema")


class BulkView(ScimView):
    def post(self, ctx: ScimContext) -> ScimResponse:
        return bulk_apply(ctx.json(), actor=ctx.actor, ignored=ctx.ignored).response()
