"""/spaces/: the spaces you are in (all of them for staff who may view spaces);
/spaces/<slug>/: a space's members, a page at a time, and why each is a member."""

from __future__ import annotations

import uuid
from typing import Final

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from personas.selectors import (
    space_get,
    space_is_member,
    space_members_page,
    spaces_of_user,
    spaces_page,
)
from portal.context import render_page
from portal.paging import page_number
from portal.people import person_card

SPACES_PAGE: Final = 50
MEMBERS_PAGE: Final = 50
SEE_ALL_SPACES: Final = "personas.view_space"


def _sees_all_spaces(request: HttpRequest) -> bool:
    # Only staff hold model permissions; asking first spares everyone else two queries.
    return request.user.is_staff and request.user.has_perm(SEE_ALL_SPACES)


@require_GET
@login_required
def spaces(request: HttpRequest) -> HttpResponse:
    page = page_number(request)
    context = {"nav": "spaces", "mine": spaces_of_user(request.user.pk), "page": page}  # type: ignore[arg-type]
    if _sees_all_spaces(request):
        everything, more = spaces_page(offset=(page - 1) * SPACES_PAGE, limit=SPACES_PAGE)
        context |= {
            "all_spaces": everything,
            "previous_url": f"?page={page - 1}" if page > 1 else None,
            "next_url": f"?page={page + 1}" if more else None,
        }
    return render_page(request, "portal/spaces.html", context)


def _cursor(request: HttpRequest) -> uuid.UUID | None:
    try:
        return uuid.UUID(request.GET["after"]) if request.GET.get("after") else None
    except ValueError:
        return None


@require_GET
@login_required
def space(request: HttpRequest, slug: str) -> HttpResponse:
    found = space_get(slug)
    # A space you are not in does not exist for you, unless you may see all of them.
    if found is None or not (
        _sees_all_spaces(request) or space_is_member(found, request.user.pk)  # type: ignore[arg-type]
    ):
        raise Http404("no such space")
    members, cursor = space_members_page(found, after=_cursor(request), limit=MEMBERS_PAGE)
    context = {
        "nav": "spaces",
        "space": found,
        "members": [(person_card(m.user), m) for m in members],
        "next_url": f"?after={cursor}" if cursor else None,
        "first_url": request.path if _cursor(request) else None,
    }
    return render_page(request, "portal/space.html", context)
