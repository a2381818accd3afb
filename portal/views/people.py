"""/people/: find a colleague; /people/<id>/: their profile; /people/<id>/org/: their
place in the organisation as a picture."""

from __future__ import annotations

import uuid
from typing import Final
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from personas.selectors import spaces_of_user
from portal.context import render_page
from portal.orgchart import org_chart
from portal.paging import MAX_PAGE, page_number
from portal.people import REPORTS_SHOWN, field_texts, person_card
from users.models import User
from users.selectors import (
    direct_reports,
    direct_reports_page,
    manager_chain,
    people_search,
    public_custom_fields,
    user_roles,
)

PAGE_SIZE: Final = 25
MAX_QUERY: Final = 100


@require_GET
@login_required
def people(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:MAX_QUERY]
    page = page_number(request)
    found, more = people_search(query, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    context = {
        "nav": "people",
        "query": query,
        "people": [person_card(p) for p in found],
        "page": page,
        "previous_url": _page_link(query, page - 1) if page > 1 else None,
        "next_url": _page_link(query, page + 1) if more and page < MAX_PAGE else None,
        "capped": more and page == MAX_PAGE,
    }
    return render_page(request, "portal/people.html", context)


def _page_link(query: str, number: int) -> str:
    return "?" + urlencode({"q": query, "page": number})


def _active_person(user_id: uuid.UUID) -> User:
    person = User.objects.select_related("manager").filter(pk=user_id, is_active=True).first()
    if person is None:
        raise Http404("no such person")
    return person


@require_GET
@login_required
def person(request: HttpRequest, user_id: uuid.UUID) -> HttpResponse:
    person = _active_person(user_id)
    reports, report_count = direct_reports(person.pk, limit=REPORTS_SHOWN)
    context = {
        "nav": "people",
        "person": person,
        "card": person_card(person),
        "chain": [person_card(m) for m in manager_chain(person)],
        "reports": [person_card(r) for r in reports],
        "more_reports": report_count - len(reports),
        "reports_url": reverse("portal:reports", args=[person.pk]),
        "fields": field_texts(public_custom_fields(person)),
        "roles": user_roles(person.pk),
        "spaces": spaces_of_user(person.pk),
    }
    return render_page(request, "portal/person.html", context)


@require_GET
@login_required
def org(request: HttpRequest, user_id: uuid.UUID) -> HttpResponse:
    person = _active_person(user_id)
    chain = manager_chain(person)
    reports, report_count = direct_reports(person.pk, limit=REPORTS_SHOWN)
    chart = org_chart(
        chain=[person_card(m) for m in chain],
        person=person_card(person),
        reports=[person_card(r) for r in reports],
        more_reports=report_count - len(reports),
    )
    context = {"nav": "people", "card": person_card(person), "chart": chart}
    return render_page(request, "portal/org.html", context)


@require_GET
@login_required
def reports(request: HttpRequest, user_id: uuid.UUID) -> HttpResponse:
    person = _active_person(user_id)
    page = page_number(request)
    found, more = direct_reports_page(person.pk, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    context = {
        "nav": "people",
        "card": person_card(person),
        "people": [person_card(p) for p in found],
        "page": page,
        "previous_url": f"?page={page - 1}" if page > 1 else None,
        "next_url": f"?page={page + 1}" if more and page < MAX_PAGE else None,
    }
    return render_page(request, "portal/reports.html", context)
