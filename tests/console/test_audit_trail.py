"""The audit trail page: targets by name with links, search by person, action families,
CSV export, and a page's names resolved in a fixed number of queries."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from axero_idp.console.audit import csv_cell
from personas.services.spaces import space_upsert
from scim.tokens import scim_token_create
from tests.factories import RoleFactory, UserFactory
from users.models import AuditEvent
from users.services import Actor, audit_record, role_rename, user_deactivate, user_update

pytestmark = pytest.mark.django_db

LIST = "/admin/users/auditevent/"


@pytest.fixture
def ada(db):
    return UserFactory(
        username="alovelace", email="ada@example.com", first_name="Ada", last_name="Lovelace"
    )


def _actions(response) -> list[str]:
    return [event.action for event in response.context["cl"].result_list]


def test_list_names_a_person_with_email_and_links_to_their_page(admin_client, ada):
    user_deactivate(user=ada, actor=Actor.admin("root"), reason="left")

    page = admin_client.get(LIST)

    assert page.status_code == 200
    html = page.content.decode()
    assert (
        f'<a href="/admin/users/user/{ada.pk}/change/">Ada Lovelace &lt;ada@example.com&gt;</a>'
        in html
    )
    assert str(ada.pk) not in html.replace(f"/admin/users/user/{ada.pk}/change/", "")


def test_list_names_roles_spaces_and_tokens_and_keeps_the_id_of_what_is_gone(admin_client):
    role = RoleFactory(display_name="Engineering")
    role_rename(role=role, display_name="Engineers", actor=Actor.admin("root"))
    space_upsert(slug="handbook", name="Handbook", actor=Actor.admin("root"))
    scim_token_create(name="okta-push", actor=Actor.admin("root"))
    audit_record(
        actor=Actor.admin("root"),
        action="role.deleted",
        target_type="role",
        target_id="00000000-0000-0000-0000-000000000042",
    )

    html = admin_client.get(LIST).content.decode()

    assert f'<a href="/admin/users/role/{role.pk}/change/">role Engineers</a>' in html
    assert ">space Handbook</a>" in html
    assert ">SCIM token okta-push</a>" in html
    assert "role <code>00000000-0000-0000-0000-000000000042</code>" in html


def test_search_by_name_or_email_finds_events_about_and_by_that_person(admin_client, ada):
    other = UserFactory(first_name="Grace", last_name="Hopper")
    user_update(user=ada, actor=Actor.scim("okta"), attributes={"title": "Analyst"})
    user_update(user=other, actor=Actor.admin(ada.username), attributes={"title": "Admiral"})
    user_update(user=other, actor=Actor.scim("okta"), attributes={"title": "Rear admiral"})

    for term in ("ada", "Ada Lovelace", "ada@example.com", "lovelace"):
        found = admin_client.get(LIST, {"q": term}).context["cl"].result_list
        assert sorted((e.target_id, e.actor_name) for e in found) == sorted(
            [(str(ada.pk), "okta"), (str(other.pk), "alovelace")]
        ), term


def test_family_filter_picks_actions_by_their_names(admin_client, ada):
    actor = Actor.admin("root")
    user_deactivate(user=ada, actor=actor, reason="left")
    audit_record(actor=Actor.idp("okta"), action="saml.login", target=ada)
    audit_record(
        actor=Actor.idp("okta"),
        action="saml.login_refused",
        target_type="identityprovider",
        target_id="okta",
        detail={"reason": "expired"},
    )
    scim_token_create(name="push", actor=actor)
    user_update(user=ada, actor=Actor.scim("push"), attributes={"title": "Analyst"})

    def family(key: str) -> list[str]:
        return sorted(_actions(admin_client.get(LIST, {"family": key})))

    assert family("sign_in") == ["saml.login"]
    assert family("refusals") == ["saml.login_refused"]
    assert family("tokens") == ["scim_token.created"]
    assert family("provisioning") == ["user.updated"]
    assert family("people") == ["user.deactivated", "user.updated"]
    assert family("admin_changes") == ["scim_token.created", "user.deactivated"]


def test_page_names_resolve_in_a_fixed_number_of_queries(admin_client):
    def page_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(LIST).status_code == 200
        return len(queries)

    for _ in range(3):
        user = UserFactory()
        role = RoleFactory()
        audit_record(actor=Actor.admin("root"), action="user.updated", target=user)
        audit_record(actor=Actor.admin("root"), action="role.renamed", target=role)
    few = page_queries()
    for _ in range(30):
        user = UserFactory()
        role = RoleFactory()
        audit_record(actor=Actor.admin("root"), action="user.updated", target=user)
        audit_record(actor=Actor.admin("root"), action="role.renamed", target=role)

    assert page_queries() == few


def test_csv_export_follows_the_filter_and_defuses_formulas(admin_client, ada):
    user_deactivate(user=ada, actor=Actor.admin('=HYPERLINK("http://x")'), reason="left")
    audit_record(actor=Actor.admin("root"), action="role.created", target=RoleFactory())

    response = admin_client.get(LIST + "export.csv", {"q": "ada@example.com"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:7] == [
        "time (UTC)",
        "action",
        "actor kind",
        "actor",
        "target type",
        "target id",
        "target",
    ]
    assert [(r[1], r[3], r[6]) for r in rows[1:]] == [
        ("user.deactivated", '\'=HYPERLINK("http://x")', "Ada Lovelace <ada@example.com>")
    ]


def test_csv_export_stops_at_its_row_cap_and_says_so(admin_client, monkeypatch):
    monkeypatch.setattr("axero_idp.console.audit.EXPORT_MAX_ROWS", 3)
    for _ in range(5):
        audit_record(actor=Actor.admin("root"), action="role.created", target=RoleFactory())

    body = b"".join(admin_client.get(LIST + "export.csv").streaming_content).decode()

    rows = list(csv.reader(io.StringIO(body)))
    assert len(rows) == 1 + 3 + 1
    assert rows[-1] == ["(stopped after 3 rows: narrow the filter)"]


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+3", "'+3"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("ada", "ada"),
        (None, ""),
    ],
)
def test_csv_cells_that_a_spreadsheet_would_run_are_quoted(value, cell):
    assert csv_cell(value) == cell


def test_export_needs_view_permission(client):
    staff = UserFactory(is_staff=True)
    client.force_login(staff)
    assert client.get(LIST + "export.csv").status_code == 403


def test_event_page_links_its_target(admin_client, ada):
    user_deactivate(user=ada, actor=Actor.admin("root"), reason="left")
    event = AuditEvent.objects.get(action="user.deactivated")

    html = admin_client.get(f"{LIST}{event.pk}/change/").content.decode()

    assert "Ada Lovelace &lt;ada@example.com&gt;" in html


def test_list_counts_at_most_its_cap_and_reads_no_distinct_values_of_the_trail(
    admin_client, monkeypatch
):
    monkeypatch.setattr("axero_idp.console.audit.COUNT_CAP", 3)
    for _ in range(5):
        audit_record(actor=Actor.admin("root"), action="role.created", target=RoleFactory())

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(LIST)

    assert response.context["cl"].result_count == 4
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert "DISTINCT" not in sql and "MIN(" not in sql
