"""/Users, /Users/{id}, /Groups, /Groups/{id} and their .search."""

from __future__ import annotations

from typing import Any

from axero_idp.errors import NotFound
from scim import group_resources, user_resources
from scim.attributes import GROUP, USER
from scim.listing import query_from
from scim.render import Projection
from scim.responses import ScimResponse
from scim.search import search_all
from scim.views.base import ScimContext, ScimView


def _projection(resource: str, ctx: ScimContext) -> Projection:
    return Projection.from_params(resource, ctx.params)


class UsersView(ScimView):
    def get(self, ctx: ScimContext) -> ScimResponse:
        return user_resources.scim_users_query(query_from(ctx.params)).response()

    def post(self, ctx: ScimContext) -> ScimResponse:
        return user_resources.scim_user_create(
            ctx.json(), _projection(USER, ctx), actor=ctx.actor, ignored=ctx.ignored
        ).response()


class UserView(ScimView):
    def get(self, ctx: ScimContext, pk: str) -> ScimResponse:
        return user_resources.scim_user_read(
            pk, _projection(USER, ctx), if_none_match=ctx.header("If-None-Match")
        ).response()

    def put(self, ctx: ScimContext, pk: str) -> ScimResponse:
        return user_resources.scim_user_replace(
            pk,
            ctx.json(),
            _projection(USER, ctx),
            actor=ctx.actor,
            if_match=ctx.header("If-Match"),
            ignored=ctx.ignored,
        ).response()

    def patch(self, ctx: ScimContext, pk: str) -> ScimResponse:
        return user_resources.scim_user_modify(
            pk, ctx.json(), _projection(USER, ctx), actor=ctx.actor, if_match=ctx.header("If-Match")
        ).response()

    def delete(self, ctx: ScimContext, pk: str) -> ScimResponse:
        return user_resources.scim_user_delete(
            pk, actor=ctx.actor, if_match=ctx.header("If-Match")
        ).response()


class GroupsView(ScimView):
    def get(self, ctx: ScimContext) -> ScimResponse:
        return group_resources.scim_groups_query(query_from(ctx.params)).response()

    def post(self, ctx: ScimContext) -> ScimResponse:
        return group_resources.scim_group_create(
            ctx.json(), _projection(GROUP, ctx), actor=ctx.actor
        ).response()


class GroupView(ScimView):
    def get(self, ctx: ScimContext, pk: str) -> ScimResponse:
        return group_resources.scim_group_read(
            pk, _projection(GROUP, ctx), if_none_match=ctx.header("If-None-Match")
        ).response()

    def put(self, ctx: ScimContext, pk: str) -> ScimResponse:
        return group_resources.scim_group_replace(
            pk,
            ctx.json(),
            _projection(GROUP, ctx),
            actor=ctx.actor,
            if_match=ctx.header("If-Match"),
        ).response()

    def patch(self, ctx: ScimContext, pk: str) -> ScimResponse:
        params = ctx.params
        return group_resources.scim_group_modify(
            pk,
            ctx.json(),
            _projection(GROUP, ctx),
            actor=ctx.actor,
            if_match=ctx.header("If-Match"),
            answer="attributes" in params or "excludedAttributes" in params,
        ).response()

    def delete(self, ctx: ScimContext, pk: str) -> ScimResponse:
        return group_resources.scim_group_delete(
            pk, actor=ctx.actor, if_match=ctx.header("If-Match")
        ).response()


class SearchView(ScimView):
    """POST {resource}/.search with a SearchRequest body (RFC 7644 §3.4.3)."""

    resource: str = USER

    def post(self, ctx: ScimContext) -> ScimResponse:
        query = query_from(ctx.json())
        if self.resource == USER:
            return user_resources.scim_users_query(query).response()
        return group_resources.scim_groups_query(query).response()


class RootSearchView(ScimView):
    """POST /.search: users and groups together, users first."""

    def post(self, ctx: ScimContext) -> ScimResponse:
        return search_all(query_from(ctx.json())).response()


class NotFoundView(ScimView):
    """Anything else under /scim/v2/: a SCIM 404 body."""

    def _missing(self, ctx: ScimContext, **kwargs: Any) -> ScimResponse:
        raise NotFound(f"No SCIM endpoint at {ctx.request.path}.")

    get = post = put = patch = delete = _missing
