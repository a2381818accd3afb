"""The employee pages through the test client on PostgreSQL: what each shows, who may
see it, and how many queries it costs (each a fixed number, whatever the directory's
size)."""

from __future__ import annotations

import re

import pytest
from django.contrib.sessions.models import Session

from sso.models import IdentityProvider
from tests.factories import UserFactory, staff_with
from users.models import AuditEvent

pytestmark = pytest.mark.django_db


def body(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def names_in(html: str, list_id: str) -> list[str]:
    """The linked names of a list (people, members) in page order."""
    section = html.split(f'id="{list_id}"', 1)[1].split("</ul>", 1)[0]
    return re.findall(r'<a href="/people/[0-9a-f-]+/">([^<]+)</a>', section)


# --- Sign-in ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/people/", "/spaces/", "/account/", "/account/image/"])
def test_a_page_that_needs_a_person_sends_an_anonymous_visitor_to_sign_in(client, path):
    response = client.get(path)

    assert (response.status_code, response["Location"]) == (302, f"/?next={path}")


def test_the_sign_in_page_offers_each_active_identity_provider(client, db):
    IdentityProvider.objects.create(slug="okta", name="Okta", entity_id="https://okta.example/")
    IdentityProvider.objects.create(
        slug="old", name="Old IdP", entity_id="https://old.example/", is_active=False
    )

    html = body(client.get("/", {"next": "/people/"}))

    assert (
        '<a class="button" href="/sso/okta/login/?next=%2Fpeople%2F">Sign in with Okta</a>' in html
    )
    assert "Old IdP" not in html
    assert "Sign in with your work email" not in html  # one IdP: no routing needed


def test_with_several_identity_providers_the_sign_in_page_links_the_email_routing(client, db):
    IdentityProvider.objects.create(slug="okta", name="Okta", entity_id="https://okta.example/")
    IdentityProvider.objects.create(slug="entra", name="Entra", entity_id="https://entra.example/")

    html = body(client.get("/"))

    assert html.index("Sign in with Entra") < html.index("Sign in with Okta")
    assert '<a href="/sso/">Sign in with your work email</a>' in html


def test_sign_in_page_queries(client, db, django_assert_max_num_queries):
    with django_assert_max_num_queries(1):
        client.get("/")


# --- Home ------------------------------------------------------------------------------


def test_home_shows_who_you_are_your_manager_reports_and_spaces(ann_client, org):
    html = body(ann_client.get("/"))

    assert '<h1 id="me-heading">Welcome, Ann Lee</h1>' in html
    assert "Staff Engineer · Engineering<br>ann@example.com" in html
    assert f'<a href="/people/{org.lead.pk}/">Lena Lind</a>' in html
    reports = html.split('id="reports-heading"', 1)[1]
    assert re.findall(r'<a href="/people/[0-9a-f-]+/">([^<]+)</a>', reports)[:2] == [
        "Bob Bauer",
        "Cem Kaya",
    ]
    assert (
        '<a href="/spaces/platform/">Platform guild</a> <span class="muted">(moderator)</span>'
        in html
    )
    assert "Board room" not in html
    # A session without a SAML login signs out locally, by a CSRF-checked POST.
    assert '<form method="post" action="/sign-out/">' in html


def test_home_queries(ann_client, org, django_assert_max_num_queries):
    # session, user, manager, reports, spaces, SAML session (sign-out target)
    with django_assert_max_num_queries(6):
        ann_client.get("/")


def test_the_local_sign_out_is_a_post(ann_client, org):
    assert ann_client.get("/sign-out/").status_code == 405
    response = ann_client.post("/sign-out/")

    assert (response.status_code, response["Location"]) == (302, "/")
    assert "Sign in to the intranet directory" in body(ann_client.get("/"))


# --- People ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["Bob Bauer", "Cem Kaya", "Ann Lee", "Lena Lind", "Cara Stone", "Victor Vale"]),
        ("engineer", ["Bob Bauer", "Cem Kaya", "Ann Lee", "Lena Lind", "Victor Vale"]),
        ("ENGINEER staff", ["Ann Lee"]),
        ("victor@example", ["Victor Vale"]),
        ("board", ["Cara Stone"]),
        ("platform", ["Lena Lind"]),
        ("nobody-like-this", []),
    ],
)
def test_people_search_by_name_email_title_department(ann_client, org, query, expected):
    html = body(ann_client.get("/people/", {"q": query}))

    found = names_in(html, "results") if expected else []
    assert found == expected
    if not expected:
        assert f"Nobody matches “{query}”." in html


def test_people_search_hides_deactivated_people_and_pages(ann_client, org, settings):
    org.reports[0].is_active = False
    org.reports[0].save()
    UserFactory.create_batch(30, first_name="Zed", last_name="Zulu")

    first = body(ann_client.get("/people/", {"q": "zed"}))
    second = body(ann_client.get("/people/", {"q": "zed", "page": "2"}))

    assert len(names_in(first, "results")) == 25
    assert '<a href="?q=zed&amp;page=2" rel="next">Next page</a>' in first
    assert len(names_in(second, "results")) == 5
    assert '<a href="?q=zed&amp;page=1" rel="prev">Previous page</a>' in second
    assert "Bob Bauer" not in body(ann_client.get("/people/", {"q": "bob"}))


def test_people_search_queries(ann_client, org, django_assert_max_num_queries):
    # session, user, SAML session; the search: its transaction (here a savepoint and its
    # release), the planner settings twice, the trigram probe and the page, and (only
    # because the test's transaction stays open) the planner's reset.
    with django_assert_max_num_queries(10) as queries:
        ann_client.get("/people/", {"q": "engineer staff"})
    reads = [q["sql"] for q in queries.captured_queries if 'FROM "users_user"' in q["sql"]]
    assert len(reads) == 3  # the session's user, the probe, the page


def test_a_search_with_many_matches_walks_the_name_index(ann_client, org, monkeypatch):
    monkeypatch.setattr("users.selectors.SEARCH_FEW", 2)

    html = body(ann_client.get("/people/", {"q": "engineer"}))

    assert names_in(html, "results") == [
        "Bob Bauer", "Cem Kaya", "Ann Lee", "Lena Lind", "Victor Vale"
    ]  # fmt: skip


def test_a_profile_shows_public_fields_chain_reports_roles_and_spaces(ann_client, org):
    html = body(ann_client.get(f"/people/{org.ann.pk}/"))

    assert '<h1 id="person-heading">Ann Lee</h1>' in html
    assert "<dt>Office</dt><dd>Berlin</dd>" in html
    assert "<dt>Skills</dt><dd>SAML, SCIM</dd>" in html
    assert "Badge" not in html and "1234" not in html  # not public
    assert "<dt>Joined</dt><dd>6 May 2024</dd>" in html
    chain = html.split('id="chain-heading"', 1)[1].split("</ol>", 1)[0]
    assert re.findall(r">([^<]+)</a>", chain) == ["Lena Lind", "Victor Vale", "Cara Stone"]
    assert 'Platform guild <span class="muted">(moderator)</span>' in html


def test_the_top_of_the_organisation_has_no_chain(ann_client, org):
    html = body(ann_client.get(f"/people/{org.ceo.pk}/"))

    assert "At the top of the organisation." in html
    assert f'<a href="/people/{org.vp.pk}/">Victor Vale</a>' in html


def test_an_unknown_or_deactivated_person_is_a_404(ann_client, org):
    org.ceo.is_active = False
    org.ceo.save()

    assert ann_client.get(f"/people/{org.ceo.pk}/").status_code == 404
    assert ann_client.get("/people/00000000-0000-0000-0000-000000000000/").status_code == 404
    assert ann_client.get("/people/not-a-uuid/").status_code == 404


def test_profile_queries(ann_client, org, django_assert_max_num_queries):
    # session, user, person+manager, chain (one recursive query), reports, public
    # fields, roles, spaces, SAML session
    with django_assert_max_num_queries(9):
        ann_client.get(f"/people/{org.ann.pk}/")


# --- Org chart -------------------------------------------------------------------------


def boxes(html: str) -> list[tuple[str, str]]:
    return re.findall(
        r'<a href="/people/[0-9a-f-]+/" class="box-(\w+)" data-person="([0-9a-f-]+)">', html
    )


def test_the_org_chart_draws_the_chain_down_to_the_person_and_their_reports(ann_client, org):
    html = body(ann_client.get(f"/people/{org.ann.pk}/org/"))

    assert boxes(html) == [
        ("manager", str(org.ceo.pk)),
        ("manager", str(org.vp.pk)),
        ("manager", str(org.lead.pk)),
        ("self", str(org.ann.pk)),
        ("report", str(org.reports[0].pk)),
        ("report", str(org.reports[1].pk)),
    ]
    assert "<title>Cara Stone, Chief Executive</title>" in html
    assert '<svg xmlns="http://www.w3.org/2000/svg" width="512" height="480"' in html


def test_the_org_chart_caps_the_reports_and_counts_the_rest(ann_client, org):
    UserFactory.create_batch(30, manager=org.ann)

    html = body(ann_client.get(f"/people/{org.ann.pk}/org/"))

    assert sum(kind == "report" for kind, _ in boxes(html)) == 24
    assert "and 8 more direct reports" in html


def test_org_chart_survives_a_manager_cycle(ann_client, org):
    type(org.ceo).objects.filter(pk=org.ceo.pk).update(manager=org.ann)

    html = body(ann_client.get(f"/people/{org.ann.pk}/org/"))

    kinds = [kind for kind, _ in boxes(html)]
    assert kinds[:4] == ["manager", "manager", "manager", "self"]


def test_org_chart_queries(ann_client, org, django_assert_max_num_queries):
    UserFactory.create_batch(30, manager=org.ann)
    # session, user, person, chain, reports, report count, SAML session
    with django_assert_max_num_queries(7):
        ann_client.get(f"/people/{org.ann.pk}/org/")


# --- Spaces ----------------------------------------------------------------------------


def test_spaces_lists_yours_with_why(ann_client, org):
    html = body(ann_client.get("/spaces/"))

    mine = html.split('id="mine-heading"', 1)[1].split("</section>", 1)[0]
    assert (
        '<a href="/spaces/platform/">Platform guild</a> <span class="muted">(moderator)</span>'
        in mine
    )
    assert '<span class="tag">added by an admin · moderator</span>' in mine
    assert '<span class="tag">persona engineers · member</span>' in mine
    assert "All spaces" not in html and "Board room" not in html


def test_staff_who_may_view_spaces_see_all_of_them(client, org):
    client.force_login(staff_with("personas.view_space"))

    html = body(client.get("/spaces/"))

    assert '<a href="/spaces/board/">Board room</a>' in html
    assert body(client.get("/spaces/board/")).count("Nobody is in this space.") == 1


def test_a_space_page_lists_members_and_why(ann_client, org):
    html = body(ann_client.get("/spaces/platform/"))

    assert "<h1>Platform guild</h1>" in html
    members = names_in(html, "members")
    assert sorted(members) == ["Ann Lee", "Bob Bauer", "Cem Kaya", "Lena Lind", "Victor Vale"]
    ann = html.split(">Ann Lee</a>", 1)[1].split("</li>", 1)[0]
    assert '<span class="tag">added by an admin · moderator</span>' in ann
    assert '<span class="tag">persona engineers · member</span>' in ann


def test_a_space_you_are_not_in_is_a_404(ann_client, org):
    assert ann_client.get("/spaces/board/").status_code == 404
    assert ann_client.get("/spaces/nope/").status_code == 404


def test_space_members_page_by_page(ann_client, org, monkeypatch):
    monkeypatch.setattr("portal.views.spaces.MEMBERS_PAGE", 2)

    first = body(ann_client.get("/spaces/platform/"))
    cursor = re.search(r'href="\?after=([0-9a-f-]+)" rel="next"', first).group(1)
    second = body(ann_client.get("/spaces/platform/", {"after": cursor}))
    third_cursor = re.search(r'href="\?after=([0-9a-f-]+)" rel="next"', second).group(1)
    third = body(ann_client.get("/spaces/platform/", {"after": third_cursor}))

    seen = names_in(first, "members") + names_in(second, "members") + names_in(third, "members")
    assert sorted(seen) == ["Ann Lee", "Bob Bauer", "Cem Kaya", "Lena Lind", "Victor Vale"]
    assert 'rel="next"' not in third


def test_spaces_queries(ann_client, org, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):  # session, user, your spaces, SAML session
        ann_client.get("/spaces/")
    # session, user, space, membership check, member ids, users, reasons, SAML session
    with django_assert_max_num_queries(8):
        ann_client.get("/spaces/platform/")


# --- Account ---------------------------------------------------------------------------


def test_account_shows_your_profile_image_form_and_this_session(ann_client, org):
    html = body(ann_client.get("/account/"))

    assert "<dt>User name</dt><dd>ann</dd>" in html
    assert "<dt>Office</dt><dd>Berlin</dd>" in html
    assert '<form method="post" action="/account/image/" enctype="multipart/form-data">' in html
    assert "Signed in here without single sign-on <strong>(this browser)</strong>" in html
    assert '<form method="post" action="/account/sign-out-everywhere/">' in html


def test_the_old_image_page_leads_to_the_account(ann_client, org):
    response = ann_client.get("/account/image/")

    assert (response.status_code, response["Location"]) == (302, "/account/")


def test_sign_out_everywhere_ends_every_session(client, org):
    client.force_login(org.ann)
    other = type(client)()
    other.force_login(org.ann)

    response = client.post("/account/sign-out-everywhere/")

    assert (response.status_code, response["Location"]) == (302, "/")
    assert other.get("/account/")["Location"] == "/?next=/account/"
    assert client.get("/account/")["Location"] == "/?next=/account/"
    event = AuditEvent.objects.get(action="user.signed_out_everywhere")
    assert (event.actor_kind, event.target_id) == ("person", str(org.ann.pk))


def test_sign_out_everywhere_needs_a_post(ann_client, org):
    assert ann_client.get("/account/sign-out-everywhere/").status_code == 405
    assert Session.objects.count() == 1


def test_account_queries(ann_client, org, django_assert_max_num_queries):
    # session, user, image, SAML sessions, public fields, roles (+ the sign-out target)
    with django_assert_max_num_queries(7):
        ann_client.get("/account/")


# --- Every page under the Content-Security-Policy --------------------------------------


def test_every_employee_page_renders_under_the_policy(client, ann_client, org):
    from tests.test_content_security_policy import assert_renders_under_the_policy

    pages = [
        "/",
        "/people/?q=engineer",
        f"/people/{org.ann.pk}/",
        f"/people/{org.ann.pk}/org/",
        "/spaces/",
        "/spaces/platform/",
        "/account/",
    ]
    for path in pages:
        response = ann_client.get(path)
        assert response.status_code == 200, path
        assert_renders_under_the_policy(response)
    ann_client.post("/sign-out/")
    assert_renders_under_the_policy(client.get("/"))


def test_a_saml_session_signs_out_through_its_idp_whose_origin_the_page_may_post_to(
    ann_client, org
):
    from sso.models import SamlSession

    idp = IdentityProvider.objects.create(
        slug="okta",
        name="Okta",
        entity_id="https://okta.example/",
        slo_url="https://okta.example/slo",
    )
    SamlSession.objects.create(
        idp=idp, user=org.ann, session_key=ann_client.session.session_key, name_id="ann"
    )

    response = ann_client.get("/")

    assert '<form method="post" action="/sso/okta/logout/">' in body(response)
    assert "form-action 'self' https://okta.example;" in response["Content-Security-Policy"]


def test_a_deactivated_manager_stays_in_the_chain_without_a_link(ann_client, org):
    type(org.vp).objects.filter(pk=org.vp.pk).update(is_active=False)

    profile = body(ann_client.get(f"/people/{org.ann.pk}/"))
    chart = body(ann_client.get(f"/people/{org.ann.pk}/org/"))

    assert "<li>Victor Vale (left)" in profile
    assert f'<g class="box-manager" data-person="{org.vp.pk}">' in chart
    assert f'<a href="/people/{org.vp.pk}/"' not in chart
    assert [kind for kind, _ in boxes(chart)] == ["manager", "manager", "self", "report", "report"]


def test_and_n_more_leads_to_every_direct_report_page_by_page(ann_client, org):
    UserFactory.create_batch(40, manager=org.ann, last_name="Zz")

    home = body(ann_client.get("/"))
    first = body(ann_client.get(f"/people/{org.ann.pk}/reports/"))
    second = body(ann_client.get(f"/people/{org.ann.pk}/reports/", {"page": "2"}))

    assert f'<p><a href="/people/{org.ann.pk}/reports/">and 18 more</a></p>' in home
    assert names_in(first, "results")[:2] == ["Bob Bauer", "Cem Kaya"]
    assert len(names_in(first, "results")) == 25 and len(names_in(second, "results")) == 17
    assert '<a href="?page=2" rel="next">Next page</a>' in first


def test_reports_page_queries(ann_client, org, django_assert_max_num_queries):
    UserFactory.create_batch(30, manager=org.ann)
    with django_assert_max_num_queries(5):  # session, user, person, page, SAML session
        ann_client.get(f"/people/{org.ann.pk}/reports/")


def test_a_search_inside_a_transaction_leaves_the_planner_as_it_was(org):
    from django.db import connection, transaction

    from users.selectors import people_search

    with transaction.atomic(), connection.cursor() as cursor:
        people_search("engineer staff", offset=0, limit=25)
        cursor.execute("SHOW enable_bitmapscan")
        bitmap = cursor.fetchone()[0]
        cursor.execute("SHOW enable_seqscan")
        seq = cursor.fetchone()[0]

    assert (bitmap, seq) == ("on", "on")
