"""POST /.search at the root: users, then groups, paged as one list (RFC 7644 §3.4.3)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from axero_idp.errors import ApplicationError
from scim.attributes import GROUP, USER, InvalidFilter
from scim.group_resources import scim_groups_matching, scim_groups_render
from scim.listing import Query
from scim.render import Projection, list_response
from scim.result import Result
from scim.user_resources import scim_users_matching, scim_users_render


def search_all(query: Query) -> Result:
    """A filter naming attributes only one type has selects from that type alone;
    one that fits neither is an invalidFilter."""
    sources: list[tuple[str, QuerySet[Any, Any], int]] = []
    errors: list[ApplicationError] = []
    for resource, matching in ((USER, scim_users_matching), (GROUP, scim_groups_matching)):
        try:
            queryset = matching(query)
            sources.append((resource, queryset, queryset.count()))
        except InvalidFilter as exc:
            errors.append(exc)
    if not sources:
        raise errors[0]
    total = sum(count for _, _, count in sources)
    resources: list[dict[str, Any]] = []
    skip, wanted = query.start_index - 1, query.count
    for resource, queryset, count in sources:
        if wanted <= 0:
            break
        if skip >= count:
            skip -= count
            continue
        page: list[Any] = list(queryset[skip : skip + wanted])
        skip = 0
        wanted -= len(page)
        projection = Projection(resource, query.attributes, query.excluded)
        if resource == USER:
            resources.extend(scim_users_render(page, projection))
        else:
            resources.extend(scim_groups_render(page, projection))
    return Result(200, list_response(resources, total=total, start_index=query.start_index))
