"""/Bulk of plain user creates: written set-based, answered exactly as one by one."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from personas.models import PendingEvaluation
from tests.factories import CustomFieldFactory, UserFactory
from tests.scim.conftest import AXERO, ScimClient, error
from users import events
from users.models import AuditEvent, User

BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BASE = "http://127.0.0.1:8000/scim/v2/Users"


def create(bulk_id: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"method": "POST", "path": "/Users", "bulkId": bulk_id, "data": data}


def bulk(scim: ScimClient, operations: list[dict[str, Any]], **extra: Any) -> Any:
    response = scim.post("/Bulk", {"schemas": [BULK], "Operations": operations, **extra})
    assert response.status_code == 200
    return response.json()["Operations"]


def created(username: str) -> dict[str, Any]:
    """The result of a successful create of username."""
    user = User.objects.get(username=username)
    return {"location": f"{BASE}/{user.pk}", "version": 'W/"1"', "status": "201"}


@pytest.mark.django_db
def test_bulk_creates_answer_each_operation_as_one_by_one(scim):
    UserFactory(username="taken@example.com")

    ops = bulk(
        scim,
        [
            create("a", {"userName": "a@example.com"}),
            create("dup-of-a", {"userName": "A@Example.com"}),
            create("existing", {"userName": "TAKEN@example.com"}),
            create("bad-email", {"userName": "c@example.com", "emails": [{"value": "nope"}]}),
            create("no-name", {"displayName": "No Name"}),
            create("b", {"userName": "b@example.com"}),
        ],
    )

    taken = "userName {!r} is already taken"
    assert ops == [
        {"method": "POST", "bulkId": "a", **created("a@example.com")},
        {
            "method": "POST",
            "bulkId": "dup-of-a",
            "status": "409",
            "response": error(409, taken.format("A@Example.com"), "uniqueness"),
        },
        {
            "method": "POST",
            "bulkId": "existing",
            "status": "409",
            "response": error(409, taken.format("TAKEN@example.com"), "uniqueness"),
        },
        {
            "method": "POST",
            "bulkId": "bad-email",
            "status": "400",
            "response": error(400, "email: 'nope' is not an email address", "invalidValue"),
        },
        {
            "method": "POST",
            "bulkId": "no-name",
            "status": "400",
            "response": error(400, "userName is required.", "invalidValue"),
        },
        {"method": "POST", "bulkId": "b", **created("b@example.com")},
    ]
    assert User.objects.filter(username__iexact="a@example.com").count() == 1
    assert not User.objects.filter(username="c@example.com").exists()


@pytest.mark.django_db
def test_bulk_creates_stop_at_fail_on_errors_and_create_nothing_after(scim):
    UserFactory(username="taken@example.com")

    ops = bulk(
        scim,
        [
            create("a", {"userName": "a@example.com"}),
            create("bad", {"userName": "bad@example.com", "emails": [{"value": "nope"}]}),
            create("existing", {"userName": "taken@example.com"}),
            create("after", {"userName": "after@example.com"}),
        ],
        failOnErrors=2,
    )

    assert [op["bulkId"] for op in ops] == ["a", "bad", "existing"]
    assert [op["status"] for op in ops] == ["201", "400", "409"]
    assert not User.objects.filter(username="after@example.com").exists()
    assert not AuditEvent.objects.filter(detail__attributes__username="after@example.com").exists()


@pytest.mark.django_db
def test_bulk_creates_run_in_order_with_other_operations_and_bulk_id_references(scim):
    gone = UserFactory(username="gone@example.com")

    ops = bulk(
        scim,
        [
            create("x", {"userName": "x@example.com"}),
            {"method": "DELETE", "path": f"/Users/{gone.pk}"},
            # Reuses the name the DELETE just freed: it must run after it.
            create("again", {"userName": "gone@example.com"}),
            create("y", {"userName": "y@example.com", "manager": {"value": "bulkId:x"}}),
            create("z", {"userName": "z@example.com"}),
        ],
    )

    assert [op["status"] for op in ops] == ["201", "204", "201", "201", "201"]
    x = User.objects.get(username="x@example.com")
    assert User.objects.get(username="y@example.com").manager == x
    assert ops[3] == {"method": "POST", "bulkId": "y", **created("y@example.com")}


@pytest.mark.django_db
def test_a_bulk_create_links_reports_waiting_for_the_new_manager(scim):
    report = UserFactory(username="report@example.com", pending_manager_ref="boss-ext")

    bulk(scim, [create("m", {"userName": "boss@example.com", "externalId": "BOSS-EXT"})])

    report.refresh_from_db()
    boss = User.objects.get(username="boss@example.com")
    assert report.manager == boss
    assert report.pending_manager_ref == ""
    [linked] = AuditEvent.objects.filter(action="user.manager_linked")
    assert linked.target_id == str(boss.pk)


STORED = [
    f.attname
    for f in User._meta.concrete_fields
    if f.attname not in ("id", "username", "password", "created_at", "updated_at")
]


def _full_body(username: str, level_key: str) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": username,
        "externalId": f"ext-{username}",
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "displayName": "Ada L.",
        "title": "Engineer",
        "active": False,
        "emails": [
            {"value": "home@example.com", "type": "home"},
            {"value": username, "primary": True},
        ],
        "photos": [{"value": f"https://img.example.com/{username}.jpg", "type": "photo"}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": "42",
            "department": "R&D",
        },
        AXERO: {"hireDate": "2024-03-01", level_key: "7"},
    }


def _anonymous(value: Any, username: str) -> Any:
    """value with the user's own name replaced, so two users' values compare."""
    if isinstance(value, str):
        return value.replace(username, "<name>")
    if isinstance(value, dict):
        return {k: _anonymous(v, username) for k, v in value.items()}
    return value


def _stored(user: User) -> dict[str, Any]:
    values = {name: _anonymous(getattr(user, name), user.username) for name in STORED}
    values["deactivated_at"] = values["deactivated_at"] is not None
    return values


def _audit(user: User) -> list[tuple[str, dict[str, Any]]]:
    return [
        (event.action, _anonymous(event.detail, user.username))
        for event in AuditEvent.objects.filter(target_id=str(user.pk)).order_by("id")
    ]


@pytest.mark.django_db
def test_a_bulk_create_stores_and_announces_what_a_single_post_does(scim, committing):
    CustomFieldFactory(key="level", type="number")
    photo_events: list[events.Event] = []
    events.subscribe(events.PhotoUrlSet, photo_events.append)
    try:
        with committing():
            single = scim.post("/Users", _full_body("s@example.com", "level"))
        with committing():
            bulk(scim, [create("b", _full_body("b@example.com", "LEVEL"))])
    finally:
        events.unsubscribe(events.PhotoUrlSet, photo_events.append)

    one = User.objects.get(pk=single.json()["id"])
    many = User.objects.get(username="b@example.com")
    assert _stored(many) == _stored(one)
    assert many.custom == {"level": 7}
    assert not many.has_usable_password()
    assert _audit(many) == _audit(one)
    assert PendingEvaluation.objects.filter(user_id=many.pk).count() == 1
    assert PendingEvaluation.objects.filter(user_id=one.pk).count() == 1
    assert [(e.user_id, e.url) for e in photo_events] == [
        (one.pk, "https://img.example.com/s@example.com.jpg"),
        (many.pk, "https://img.example.com/b@example.com.jpg"),
    ]


def _statements(scim: ScimClient, count: int, prefix: str) -> int:
    operations = [
        create(f"{prefix}{n}", {"userName": f"{prefix}{n}@example.com", "title": "T"})
        for n in range(count)
    ]
    with CaptureQueriesContext(connection) as queries:
        ops = bulk(scim, operations)
    assert [op["status"] for op in ops] == ["201"] * count
    return len(queries)


@pytest.mark.django_db
def test_bulk_creates_cost_the_same_statements_for_10_and_200_users(scim):
    _statements(scim, 2, "warm")  # the token's first use writes its last_used_at

    assert _statements(scim, 10, "ten") == _statements(scim, 200, "many")
    assert _statements(scim, 10, "again") <= 10


@pytest.mark.django_db(transaction=True)
def test_two_bulk_requests_racing_for_the_same_usernames_create_each_once(scim_token):
    names = [f"race{n}@example.com" for n in range(60)]
    first = [create(f"f{n}", {"userName": name}) for n, name in enumerate(names)]
    # The other request sends them reversed and in another case: still the same users.
    second = [create(f"s{n}", {"userName": name.upper()}) for n, name in enumerate(names)][::-1]
    barrier = threading.Barrier(2)
    answers: list[Any] = [None, None]

    def send(index: int, operations: list[dict[str, Any]]) -> None:
        try:
            barrier.wait(timeout=10)
            answers[index] = ScimClient(scim_token).post("/Bulk", {"Operations": operations})
        finally:
            connection.close()

    threads = [
        threading.Thread(target=send, args=(i, ops)) for i, ops in enumerate((first, second))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    statuses = [op["status"] for answer in answers for op in answer.json()["Operations"]]
    assert [answer.status_code for answer in answers] == [200, 200]
    assert sorted(set(statuses)) == ["201", "409"] or set(statuses) <= {"201", "409"}
    assert statuses.count("201") == len(names)
    assert statuses.count("409") == len(names)
    assert User.objects.filter(username__iregex=r"^race\d+@example\.com$").count() == len(names)
    assert AuditEvent.objects.filter(action="user.created").count() == len(names)


ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def _team(p: str) -> list[dict[str, Any]]:
    """Users of one push naming their managers every way IdPs do; names start with p."""

    def user(name: str, manager: str | None = None, **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"userName": f"{p}{name}@example.com", **extra}
        if manager is not None:
            body[ENTERPRISE] = {"manager": {"value": manager}}
        return body

    return [
        user("early", manager=f"{p}boss-ext"),  # the boss comes later: pending, then linked
        user("boss", externalId=f"{p}boss-ext"),
        user("late", manager=f"{p}boss@example.com"),  # the boss exists by now
        user("chief-report", manager=f"{p}chief-ext"),  # an existing user
        user("nobody-report", manager=f"{p}nobody"),  # stays pending
        user("taken", externalId=f"{p}taken-ext"),  # 409: exists already
        user("after-taken", manager=f"{p}taken-ext"),  # so the reference waits
    ]


def _team_state(p: str) -> dict[str, Any]:
    """Who manages whom, what waits, versions and audit, named without p or ids."""
    names = {str(u.pk): u.username.removeprefix(p) for u in User.objects.all()}

    def named(value: Any) -> Any:
        if isinstance(value, str):
            return names.get(value, value.replace(p, "<p>"))
        if isinstance(value, list):
            return sorted(named(v) for v in value)
        if isinstance(value, dict):
            return {k: named(v) for k, v in value.items()}
        return value

    users = User.objects.filter(username__startswith=p).select_related("manager")
    return {
        u.username.removeprefix(p): {
            "manager": u.manager.username.removeprefix(p) if u.manager else None,
            "pending": u.pending_manager_ref.replace(p, "<p>"),
            "version": u.version,
            "audit": [
                (e.action, named(e.detail))
                for e in AuditEvent.objects.filter(target_id=str(u.pk)).order_by("id")
            ],
        }
        for u in users
    }


@pytest.mark.django_db
def test_bulk_creates_resolve_and_link_managers_as_one_by_one(scim, committing):
    changed: list[events.Event] = []
    events.subscribe(events.ManagerChanged, changed.append)
    try:
        for p in ("one_", "bulk_"):
            UserFactory(username=f"{p}chief@example.com", external_id=f"{p}chief-ext")
            UserFactory(username=f"{p}taken@example.com")
            UserFactory(username=f"{p}waiting@example.com", pending_manager_ref=f"{p}BOSS-EXT")
        with committing():
            singles = [scim.post("/Users", body) for body in _team("one_")]
        with committing():
            ops = bulk(scim, [create(str(n), body) for n, body in enumerate(_team("bulk_"))])
    finally:
        events.unsubscribe(events.ManagerChanged, changed.append)

    assert [str(r.status_code) for r in singles] == [op["status"] for op in ops]
    assert _team_state("bulk_") == _team_state("one_")
    boss = _team_state("bulk_")["boss@example.com"]
    assert [action for action, _ in boss["audit"]] == ["user.created", "user.manager_linked"]
    assert _team_state("bulk_")["waiting@example.com"]["manager"] == "boss@example.com"
    assert _team_state("bulk_")["after-taken@example.com"]["pending"] == "<p>taken-ext"
    [single_link, bulk_link] = changed
    assert len(single_link.user_ids) == len(bulk_link.user_ids) == 2


@pytest.mark.django_db
def test_bulk_creates_with_managers_cost_the_same_statements_for_10_and_200(scim):
    UserFactory(username="head@example.com")

    def statements(count: int, p: str) -> int:
        operations = [create(f"{p}0", {"userName": f"{p}0@example.com", "externalId": f"{p}x"})]
        operations += [
            create(f"{p}{n}", {"userName": f"{p}{n}@example.com", ENTERPRISE: {"manager": ref}})
            for n in range(1, count)
            for ref in [{"value": f"{p}x" if n % 2 else "head@example.com"}]
        ]
        with CaptureQueriesContext(connection) as queries:
            ops = bulk(scim, operations)
        assert [op["status"] for op in ops] == ["201"] * count
        return len(queries)

    statements(2, "warm")
    assert statements(10, "ten") == statements(200, "many")
    assert User.objects.get(username="many7@example.com").manager.username == "many0@example.com"
