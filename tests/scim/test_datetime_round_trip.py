"""A dateTime a client stored comes back as it was sent (RFC 7643 §2.3.5): hireDate and
date custom fields keep the instant; the directory derives the calendar day that
filters and persona rules compare."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

import pytest
from django.db import connection

from personas.rules import compile_rule, validate_rule
from sso.models import IdentityProvider
from sso.provisioning import user_provision_from_login
from tests.factories import UserFactory
from tests.scim.conftest import AXERO, PATCH_OP
from users.models import User
from users.selectors import custom_fields_by_key
from users.services import Actor, custom_field_define, user_update

pytestmark = pytest.mark.django_db


@pytest.fixture
def start_field():
    custom_field_define(key="start", type="date", actor=Actor.system("t"))


def _hire(scim, user_id: str) -> str:
    return scim.get(f"/Users/{user_id}").json()[AXERO]["hireDate"]


def test_hire_date_with_a_time_comes_back_as_sent(scim):
    created = scim.post(
        "/Users", {"userName": "ada@example.com", AXERO: {"hireDate": "2023-01-24T09:00:10Z"}}
    )

    assert created.status_code == 201
    assert created.json()[AXERO] == {"hireDate": "2023-01-24T09:00:10Z"}
    assert _hire(scim, created.json()["id"]) == "2023-01-24T09:00:10Z"
    user = User.objects.get(username="ada@example.com")
    assert user.hire_date == dt.date(2023, 1, 24)
    assert user.hired_at == dt.datetime(2023, 1, 24, 9, 0, 10, tzinfo=dt.UTC)


def test_hire_date_put_and_patch_replace_the_time(scim):
    user_id = scim.post("/Users", {"userName": "ada@example.com"}).json()["id"]

    put = scim.put(
        f"/Users/{user_id}",
        {"userName": "ada@example.com", AXERO: {"hireDate": "2023-01-24T09:00:10Z"}},
    )
    patched = scim.patch(
        f"/Users/{user_id}",
        {
            "schemas": [PATCH_OP],
            "Operations": [
                {"op": "replace", "path": f"{AXERO}:hireDate", "value": "2023-01-24T17:45:00Z"}
            ],
        },
    )

    assert put.json()[AXERO]["hireDate"] == "2023-01-24T09:00:10Z"
    assert patched.json()[AXERO]["hireDate"] == "2023-01-24T17:45:00Z"


def test_the_day_is_the_one_written_and_survives_an_unrelated_patch(scim):
    user_id = scim.post(
        "/Users",
        {"userName": "ada@example.com", AXERO: {"hireDate": "2024-03-01T00:30:00+02:00"}},
    ).json()["id"]

    patched = scim.patch(
        f"/Users/{user_id}",
        {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "X"}]},
    )

    assert patched.status_code == 200
    assert patched.json()[AXERO]["hireDate"] == "2024-02-29T22:30:00Z"  # the same instant
    assert User.objects.get(pk=user_id).hire_date == dt.date(2024, 3, 1)


def test_a_plain_hire_date_is_midnight_utc(scim):
    created = scim.post("/Users", {"userName": "ada@example.com", AXERO: {"hireDate": "3/1/2024"}})

    assert created.json()[AXERO]["hireDate"] == "2024-03-01T00:00:00Z"


def test_date_custom_field_with_a_time_comes_back_as_sent(scim, start_field):
    created = scim.post(
        "/Users", {"userName": "ada@example.com", AXERO: {"start": "2023-01-24T09:00:10Z"}}
    )
    user_id = created.json()["id"]
    patched = scim.patch(
        f"/Users/{user_id}",
        {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "X"}]},
    )

    assert created.json()[AXERO] == {"start": "2023-01-24T09:00:10Z"}
    assert patched.json()[AXERO] == {"start": "2023-01-24T09:00:10Z"}
    assert scim.get(f"/Users/{user_id}").json()[AXERO] == {"start": "2023-01-24T09:00:10Z"}


def test_filters_on_date_custom_fields_compare_the_day(scim, start_field):
    UserFactory(username="ada", custom={"start": "2023-01-24T09:00:10+00:00"})
    UserFactory(username="bob", custom={"start": "2023-01-25"})
    UserFactory(username="cy")

    def names(text: str) -> set[str]:
        response = scim.get("/Users?" + urlencode({"filter": text}))
        assert response.status_code == 200, response.json()
        return {r["userName"] for r in response.json()["Resources"]}

    assert names(f'{AXERO}:start eq "2023-01-24"') == {"ada"}
    assert names(f'{AXERO}:start eq "2023-01-24T00:00:00Z"') == {"ada"}
    assert names(f'{AXERO}:start ne "2023-01-24"') == {"bob", "cy"}
    assert names(f'{AXERO}:start gt "2023-01-24"') == {"bob"}
    assert names(f'{AXERO}:start le "2023-01-24"') == {"ada"}


def test_a_plain_date_of_the_same_day_keeps_the_stored_time(scim, start_field):
    # SAML often sends the day of what SCIM pushed with its time: no flip-flop.
    user_id = scim.post(
        "/Users",
        {
            "userName": "ada@example.com",
            AXERO: {"hireDate": "2023-01-24T09:00:10Z", "start": "2023-01-24T09:00:10Z"},
        },
    ).json()["id"]
    user = User.objects.get(pk=user_id)
    version = user.version

    same_day = user_update(
        user=user,
        actor=Actor.system("t"),
        attributes={"hire_date": "2023-01-24"},
        custom={"start": "2023-01-24"},
    )
    other_day = user_update(
        user=user,
        actor=Actor.system("t"),
        attributes={"hire_date": "2023-01-25"},
        custom={"start": "2023-01-25"},
    )

    assert same_day.version == version
    assert other_day.hired_at == dt.datetime(2023, 1, 25, tzinfo=dt.UTC)
    assert other_day.custom == {"start": "2023-01-25"}


def test_saml_login_with_the_same_hire_day_keeps_the_scim_time(scim):
    idp = IdentityProvider.objects.create(
        slug="onelogin",
        entity_id="https://app.onelogin.com/saml/metadata/1",
        sso_url="https://acme.onelogin.com/sso",
        signing_certificates=["MIIB"],
        link_by_email=True,
    )
    user_id = scim.post(
        "/Users",
        {
            "userName": "ann@example.com",
            "emails": [{"value": "ann@example.com"}],
            AXERO: {"hireDate": "2023-01-24T09:00:10Z"},
        },
    ).json()["id"]

    result = user_provision_from_login(
        idp=idp,
        name_id="ann@example.com",
        attributes={"User.email": ["ann@example.com"], "hireDate": ["2023-01-24"]},
    )

    assert str(result.user.pk) == user_id
    assert _hire(scim, user_id) == "2023-01-24T09:00:10Z"


def test_persona_rules_on_a_date_time_compare_its_day(start_field):
    today = dt.date(2026, 3, 1)
    UserFactory(
        username="ada",
        hire_date=dt.date(2026, 3, 1),
        hired_at=dt.datetime(2026, 3, 1, 23, 59, tzinfo=dt.UTC),
        custom={"start": "2026-03-01T23:59:00+00:00"},
    )
    UserFactory(username="bob", custom={"start": "2026-02-01"})
    fields = custom_fields_by_key()

    def match(rule: dict) -> set[str]:
        validate_rule(rule, custom_fields=fields)
        q = compile_rule(rule, custom_fields=fields, today=today, vendor=connection.vendor)
        return set(User.objects.filter(q).values_list("username", flat=True))

    assert match({"attr": "custom.start", "op": "within_days", "value": 0}) == {"ada"}
    assert match({"attr": "custom.start", "op": "eq", "value": "2026-03-01"}) == {"ada"}
    assert match({"attr": "custom.start", "op": "before", "value": "2026-03-01"}) == {"bob"}
    assert match({"attr": "hire_date", "op": "within_days", "value": 0}) == {"ada"}


@pytest.mark.django_db(transaction=True)
def test_migration_keeps_existing_hire_dates_as_midnight_utc():
    from django.db.migrations.executor import MigrationExecutor

    before, after = ("users", "0008_unmapped_attribute"), ("users", "0009_user_hired_at")
    executor = MigrationExecutor(connection)
    executor.migrate([before])
    old_user = executor.loader.project_state([before]).apps.get_model("users", "User")
    old_user.objects.create(username="ada", hire_date=dt.date(2020, 5, 17), custom={})
    old_user.objects.create(username="bob", hire_date=None, custom={})

    executor = MigrationExecutor(connection)
    executor.migrate([after])

    stored = dict(User.objects.values_list("username", "hired_at"))
    # Every later migration back, so the tests after this one see the whole schema.
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert stored == {"ada": dt.datetime(2020, 5, 17, tzinfo=dt.UTC), "bob": None}
    assert User.objects.get(username="ada").hire_date == dt.date(2020, 5, 17)
