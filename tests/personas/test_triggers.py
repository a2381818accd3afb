"""Directory events mark users pending; the drain task (queued at once, and every
minute by beat) brings their memberships up to date, broker or no broker."""

import json
import uuid

import pytest
from kombu.exceptions import OperationalError

from personas import tasks
from personas.models import PendingEvaluation
from personas.services import pending_drain, pending_mark_persona, pending_mark_users
from personas.services.pending import FULL_EVALUATION_THRESHOLD
from tests.factories import RoleFactory, UserFactory
from tests.personas.conftest import members
from users.services import (
    role_delete,
    role_members_add,
    role_members_remove,
    role_rename,
    user_create,
    user_delete,
    user_roles_sync,
    user_update,
)

ENGINEERS = {"attr": "roles", "op": "contains", "value": "engineering"}


def drain():
    return tasks.personas_pending_drain.apply().get()


@pytest.mark.django_db
def test_role_member_add_puts_the_user_in_the_space_after_the_task(
    define, evaluate, actor, committing
):
    persona = define("eng", ENGINEERS)
    evaluate(persona)
    role = RoleFactory(display_name="Engineering")
    ann = UserFactory(username="ann")
    with committing():
        role_members_add(role=role, user_ids=[ann.pk], source="scim", actor=actor)
    assert list(PendingEvaluation.objects.values_list("user_id", flat=True)) == [ann.pk]
    assert members() == set()
    assert drain() == 1
    assert members() == {"ann"}
    assert PendingEvaluation.objects.count() == 0
    with committing():
        role_members_remove(role=role, user_ids=[ann.pk], source="scim", actor=actor)
    drain()
    assert members() == set()


@pytest.mark.django_db
def test_user_created_and_changed_are_evaluated(define, evaluate, actor, committing):
    evaluate(define("sales", {"attr": "department", "op": "eq", "value": "Sales"}))
    with committing():
        ann = user_create(
            actor=actor, source="scim", username="ann", attributes={"department": "Sales"}
        )
    drain()
    assert members() == {"ann"}
    with committing():
        user_update(user=ann, actor=actor, attributes={"department": "R&D"})
    drain()
    assert members() == set()


@pytest.mark.django_db
def test_role_deleted_re_evaluates_its_former_members(define, evaluate, actor, committing):
    role = RoleFactory(display_name="Engineering")
    ann = UserFactory(username="ann")
    with committing():
        role_members_add(role=role, user_ids=[ann.pk], source="scim", actor=actor)
    evaluate(define("eng", ENGINEERS))
    assert members() == {"ann"}
    with committing():
        role_delete(role=role, actor=actor)
    drain()
    assert members() == set()


@pytest.mark.django_db
def test_a_managers_new_email_re_evaluates_their_reports(define, evaluate, actor, committing):
    boss = UserFactory(username="boss", email="boss@example.com")
    UserFactory(username="ann", manager=boss)
    evaluate(define("team", {"attr": "manager", "op": "eq", "value": "chief@example.com"}))
    with committing():
        user_update(user=boss, actor=actor, attributes={"email": "chief@example.com"})
    drain()
    assert members() == {"ann"}


@pytest.mark.django_db
def test_deleted_users_leave_with_their_rows(define, evaluate, actor):
    ann = UserFactory(username="ann", department="Sales")
    evaluate(define("sales", {"attr": "department", "op": "eq", "value": "Sales"}))
    user_delete(user=ann, actor=actor)
    assert members() == set()


@pytest.mark.django_db
def test_a_huge_change_becomes_one_full_evaluation_mark(define, evaluate):
    UserFactory(username="ann", department="Sales")
    define("sales", {"attr": "department", "op": "eq", "value": "Sales"})
    pending_mark_users(user_ids={uuid.uuid4() for _ in range(FULL_EVALUATION_THRESHOLD + 1)})
    assert list(PendingEvaluation.objects.values_list("user_id", "persona_id")) == [(None, None)]
    result = pending_drain(actor=tasks.SYSTEM)
    assert (result.marks, result.personas, result.added) == (1, 1, 1)
    assert members() == {"ann"}


@pytest.mark.django_db(transaction=True)
def test_broker_down_the_scim_request_succeeds_and_beat_drains_later(
    define, evaluate, provisioning_token, client, monkeypatch
):
    evaluate(define("sales", {"attr": "department", "op": "eq", "value": "Sales"}))
    queued = []

    def broker_down(*args, **kwargs):
        queued.append(args)
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.personas_pending_drain, "apply_async", broker_down)
    response = client.post(
        "/scim/v2/Users",
        data=json.dumps(
            {
                "userName": "ann@example.com",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                    "department": "Sales"
                },
            }
        ),
        content_type="application/scim+json",
        HTTP_AUTHORIZATION=f"Bearer {provisioning_token}",
    )
    assert response.status_code == 201
    assert len(queued) == 1
    assert PendingEvaluation.objects.count() == 1
    assert members() == set()
    # Beat's every-minute run, once a worker is back:
    assert drain() == 1
    assert members() == {"ann@example.com"}


@pytest.mark.django_db
def test_changes_that_cannot_affect_a_match_mark_nobody(actor, committing):
    ann = UserFactory(username="ann")
    with committing():
        user_update(user=ann, actor=actor, attributes={"photo_url": "https://example.com/a.png"})
    assert PendingEvaluation.objects.count() == 0
    with committing():
        user_update(user=ann, actor=actor, attributes={"title": "CTO"})
    assert PendingEvaluation.objects.count() == 1


@pytest.mark.django_db
def test_the_daily_job_queues_every_persona_and_each_evaluation_is_safe_to_repeat(define):
    UserFactory(username="ann", department="Sales")
    persona = define("sales", {"attr": "department", "op": "eq", "value": "Sales"})
    assert tasks.personas_evaluate_daily.apply().get() == 1
    assert tasks.persona_evaluate_one.apply(args=[persona.pk]).get() == 1
    assert tasks.persona_evaluate_one.apply(args=[persona.pk]).get() == 0
    assert tasks.persona_evaluate_one.apply(args=[persona.pk + 999]).get() == 0
    assert members() == {"ann"}


def test_beat_runs_the_drain_every_minute_and_the_full_evaluation_daily(settings):
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert schedule["personas-pending-drain"] == {
        "task": "personas.tasks.personas_pending_drain",
        "schedule": 60.0,
    }
    assert schedule["personas-evaluate-daily"] == {
        "task": "personas.tasks.personas_evaluate_daily",
        "schedule": 86400.0,
    }


@pytest.mark.django_db
def test_a_saml_login_role_sync_reaches_the_space(define, evaluate, actor, committing):
    evaluate(define("eng", ENGINEERS))
    ann = UserFactory(username="ann")
    with committing():
        user_roles_sync(user=ann, role_names=["Engineering"], source="saml:onelogin", actor=actor)
    drain()
    assert members() == {"ann"}
    with committing():
        user_roles_sync(user=ann, role_names=[], source="saml:onelogin", actor=actor)
    drain()
    assert members() == set()


@pytest.mark.django_db
def test_persona_marks_evaluate_those_personas_for_everyone(define):
    UserFactory(username="ann", department="Sales", title="Lead")
    sales = define("sales", {"attr": "department", "op": "eq", "value": "Sales"})
    leads = define("leads", {"attr": "title", "op": "eq", "value": "Lead"}, spaces=("leads",))
    define("untouched", {"attr": "title", "op": "exists"}, spaces=("other",))
    for persona_id in (sales.pk, leads.pk, sales.pk, 987654):
        pending_mark_persona(persona_id=persona_id)
    pending_mark_users(user_ids={UserFactory(username="ben", department="Sales").pk})
    result = pending_drain(actor=tasks.SYSTEM)
    assert (result.marks, result.personas, result.users) == (5, 2, 1)
    # "untouched" was evaluated for ben only (his mark), so ann is not there yet.
    assert (members(), members("leads"), members("other")) == ({"ann", "ben"}, {"ann"}, set())
    assert PendingEvaluation.objects.count() == 0


@pytest.mark.django_db
def test_deleting_a_manager_re_evaluates_their_reports(define, evaluate, actor, committing):
    boss = UserFactory(username="boss")
    ann = UserFactory(username="ann", manager=boss)
    UserFactory(username="bob")
    evaluate(define("no-manager", {"attr": "manager", "op": "exists", "value": False}))
    assert members() == {"boss", "bob"}
    with committing():
        user_delete(user=boss, actor=actor)
    assert set(PendingEvaluation.objects.values_list("user_id", flat=True)) == {ann.pk}
    drain()
    assert members() == {"ann", "bob"}


@pytest.mark.django_db
def test_attributes_no_rule_can_name_mark_nobody(actor, committing):
    ann = UserFactory(username="ann")
    with committing():
        user_update(
            user=ann,
            actor=actor,
            attributes={"cost_center": "CC-1", "organization": "Acme", "external_id": "x-1"},
        )
    assert PendingEvaluation.objects.count() == 0
    # Their own username is nothing a rule compares (a manager's is: see above).
    with committing():
        user_update(user=ann, actor=actor, attributes={"username": "ann2"})
    assert PendingEvaluation.objects.count() == 0


@pytest.mark.django_db
def test_renaming_a_role_re_evaluates_its_members(define, evaluate, actor, committing):
    evaluate(define("eng", ENGINEERS))
    ann = UserFactory(username="ann")
    with committing():
        user_roles_sync(user=ann, role_names=["Eng"], source="saml:onelogin", actor=actor)
    drain()
    assert members() == set()
    role = ann.roles.get()

    with committing():
        role_rename(role=role, actor=actor, display_name="Engineering")
    assert PendingEvaluation.objects.filter(user_id=ann.pk).count() == 1
    drain()

    assert members() == {"ann"}
    with committing():
        role_rename(role=role, actor=actor, display_name="Engineering", external_id="x")
    assert PendingEvaluation.objects.count() == 0  # only a name change can change a match
