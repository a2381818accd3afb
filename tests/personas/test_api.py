"""GET /api/v1/spaces/{slug}/members/: auth, body, reasons, pages."""

import uuid

import pytest

from personas.models import Space
from personas.services import space_member_add
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/spaces/{}/members/"


@pytest.fixture
def space(define, evaluate, actor):
    ann = UserFactory(
        username="ann",
        email="ann@example.com",
        first_name="Ann",
        last_name="Lee",
        department="Sales",
        hire_date="2026-02-20",
    )
    UserFactory(username="ben", department="R&D")
    evaluate(
        define("sales", {"attr": "department", "op": "eq", "value": "Sales"}, spaces=("deals",))
    )
    evaluate(
        define(
            "new",
            {"attr": "hire_date", "op": "within_days", "value": 30},
            spaces=("deals",),
            role="contributor",
        )
    )
    space = Space.objects.get(slug="deals")
    space_member_add(space=space, user=ann, role="member", actor=actor)
    return space


def get(client, slug="deals", token=None, **params):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.get(URL.format(slug), params, **headers)


def test_token_sees_members_and_why(client, space, provisioning_token):
    response = get(client, token=provisioning_token)
    ann = UserFactory._meta.model.objects.get(username="ann")
    assert response.status_code == 200
    assert response.json() == {
        "space": {"slug": "deals", "name": "Deals"},
        "totalResults": 1,
        "members": [
            {
                "id": str(ann.pk),
                "userName": "ann",
                "displayName": "Ann Lee",
                "email": "ann@example.com",
                "active": True,
                "role": "contributor",
                "reasons": [
                    {"source": "manual", "role": "member"},
                    {"source": "persona", "role": "contributor", "persona": "new"},
                    {"source": "persona", "role": "member", "persona": "sales"},
                ],
            }
        ],
        "next": None,
    }


def test_staff_session_is_allowed(admin_client, space):
    assert get(admin_client).status_code == 200


def test_non_staff_person_is_forbidden(client, space):
    client.force_login(UserFactory(username="pleb"))
    response = get(client)
    assert (response.status_code, response.json()) == (
        403,
        {"detail": "You do not have permission to perform this action."},
    )


def test_anonymous_is_unauthorized(client, space):
    response = get(client)
    assert (response.status_code, response.json()) == (
        401,
        {"detail": "Authentication credentials were not provided."},
    )


def test_unknown_space_is_a_json_404(admin_client, db):
    response = get(admin_client, slug="nowhere")
    assert (response.status_code, response.json()) == (
        404,
        {"error": "not_found", "detail": "no space 'nowhere'"},
    )


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"limit": "0"}, "limit: expected a whole number from 1 to 1000"),
        ({"limit": "abc"}, "limit: expected a whole number from 1 to 1000"),
        ({"limit": "1001"}, "limit: expected a whole number from 1 to 1000"),
        # str.isdigit() says yes to these; int() then refuses them.
        ({"limit": "\u00b2"}, "limit: expected a whole number from 1 to 1000"),
        ({"limit": "1" * 5000}, "limit: expected a whole number from 1 to 1000"),
        ({"limit": "-5"}, "limit: expected a whole number from 1 to 1000"),
        ({"after": "not-a-uuid"}, "after: expected a user id (UUID)"),
    ],
)
def test_bad_paging_is_a_json_400(admin_client, space, params, detail):
    response = get(admin_client, **params)
    assert (response.status_code, response.json()) == (400, {"error": "invalid", "detail": detail})


def test_pages_follow_user_id_order_without_gaps_or_repeats(admin_client, define, evaluate):
    users = [UserFactory(username=f"u{n}", department="Sales") for n in range(7)]
    evaluate(
        define("sales", {"attr": "department", "op": "eq", "value": "Sales"}, spaces=("deals",))
    )
    seen, url, pages = [], URL.format("deals") + "?limit=3", 0
    while url:
        body = admin_client.get(url).json()
        assert body["totalResults"] == 7
        seen += [m["id"] for m in body["members"]]
        url, pages = body["next"], pages + 1
    assert pages == 3
    assert seen == sorted(str(u.pk) for u in users)
    assert [uuid.UUID(s) for s in seen] == sorted(u.pk for u in users)


def test_the_cursor_is_the_last_id_scanned_even_if_that_member_left_meanwhile(
    define, evaluate, monkeypatch
):
    from personas import selectors
    from users.models import User

    users = sorted(
        (UserFactory(username=f"u{n}", department="Sales") for n in range(4)), key=lambda u: u.pk
    )
    evaluate(
        define("sales", {"attr": "department", "op": "eq", "value": "Sales"}, spaces=("deals",))
    )
    gone = users[1].pk

    class Racing:
        """The users read misses the page's last member (deleted between the reads)."""

        class objects:  # noqa: N801
            @staticmethod
            def filter(**kwargs):
                return User.objects.filter(**kwargs).exclude(pk=gone)

    monkeypatch.setattr(selectors, "User", Racing)
    space = selectors.space_get("deals")

    members, cursor = selectors.space_members_page(space, after=None, limit=2)

    assert [m.user.pk for m in members] == [users[0].pk]
    assert cursor == gone  # the next page starts after it: no repeat, no gap
