import datetime as dt

import pytest
from django.contrib.sessions.models import Session
from django.db import IntegrityError, transaction

from axero_idp.errors import UniquenessConflict, ValidationFailed
from tests.factories import CustomFieldFactory, UserFactory
from users import events
from users.models import AuditEvent, Source, User
from users.services import (
    MANAGER_BY_SAML,
    Actor,
    user_access_set,
    user_create,
    user_deactivate,
    user_delete,
    user_manager_set,
    user_reactivate,
    user_update,
)

pytestmark = pytest.mark.django_db


def events_for(target_id, action=None):
    query = AuditEvent.objects.filter(target_id=str(target_id))
    if action:
        query = query.filter(action=action)
    return list(query.order_by("id"))


class Recorder:
    def __init__(self):
        self.seen = []

    def __call__(self, event):
        self.seen.append(event)


@pytest.fixture
def recorder():
    rec = Recorder()
    kinds = (
        events.UserCreated,
        events.UserChanged,
        events.ManagerChanged,
        events.UserDeleted,
        events.PhotoUrlSet,
    )
    for kind in kinds:
        events.subscribe(kind, rec)
    yield rec
    for kind in kinds:
        events.unsubscribe(kind, rec)


def test_user_create_stores_attributes_and_writes_one_audit_event(actor, committing, recorder):
    with committing():
        user = user_create(
            actor=actor,
            source=Source.SCIM,
            username="Ada@Example.com",
            attributes={"email": "ada@example.com", "first_name": "Ada", "hire_date": "3/1/2024"},
        )
    user.refresh_from_db()
    assert user.username == "Ada@Example.com"
    assert user.hire_date == dt.date(2024, 3, 1)
    assert user.source == "scim"
    assert not user.has_usable_password()
    assert len(user.password) == 41  # "!" and 40 random characters, as Django's own
    [event] = events_for(user.pk)
    assert event.action == "user.created"
    assert event.actor_kind == "system"
    assert event.detail["attributes"]["first_name"] == "Ada"
    assert event.detail["attributes"]["hire_date"] == "2024-03-01"
    assert recorder.seen == [events.UserCreated(user_id=user.pk)]


def test_user_create_refuses_a_username_differing_only_in_case(actor):
    user_create(actor=actor, source=Source.ADMIN, username="grace")
    with pytest.raises(UniquenessConflict, match="userName 'GRACE' is already taken"):
        user_create(actor=actor, source=Source.ADMIN, username="GRACE")
    assert User.objects.filter(username__iexact="grace").count() == 1


def test_database_refuses_case_variant_usernames_even_past_the_service():
    User.objects.create(username="linus")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username="LINUS")


def test_user_create_refuses_an_invalid_email(actor):
    with pytest.raises(ValidationFailed, match="email: 'not-an-email' is not an email address"):
        user_create(
            actor=actor, source=Source.ADMIN, username="x", attributes={"email": "not-an-email"}
        )
    assert not User.objects.exists()


def test_user_create_refuses_unknown_custom_field(actor):
    with pytest.raises(ValidationFailed, match="custom.nope: no such custom profile field"):
        user_create(actor=actor, source=Source.SCIM, username="x", custom={"nope": "1"})


def test_custom_values_are_typed_by_their_definition(actor):
    CustomFieldFactory(key="persona", type="string")
    CustomFieldFactory(key="start", type="date")
    CustomFieldFactory(key="level", type="number")
    CustomFieldFactory(key="remote", type="boolean")
    CustomFieldFactory(key="skills", type="list")
    user = user_create(
        actor=actor,
        source=Source.SCIM,
        username="typed",
        custom={
            "persona": "Engineer",
            "start": "12/31/2023",
            "level": "3",
            "remote": "True",
            "skills": ["go", "sql"],
        },
    )
    user.refresh_from_db()
    assert user.custom == {
        "persona": "Engineer",
        "start": "2023-12-31",
        "level": 3,
        "remote": True,
        "skills": ["go", "sql"],
    }
    with pytest.raises(ValidationFailed, match="custom.level: 'three' is not a number"):
        user_update(user=user, actor=actor, custom={"level": "three"})


def test_custom_values_are_queryable_with_json_containment(actor):
    CustomFieldFactory(key="persona", type="string")
    user_create(actor=actor, source=Source.SCIM, username="a", custom={"persona": "Sales"})
    user_create(actor=actor, source=Source.SCIM, username="b", custom={"persona": "Eng"})
    assert list(
        User.objects.filter(custom__contains={"persona": "Sales"}).values_list(
            "username", flat=True
        )
    ) == ["a"]


def test_user_update_writes_only_what_changed_and_bumps_the_version(actor, committing, recorder):
    user = UserFactory(first_name="Old", title="Dev")
    version = user.version
    with committing():
        updated = user_update(
            user=user, actor=actor, attributes={"first_name": "New", "title": "Dev"}
        )
    assert updated.first_name == "New"
    assert updated.version == version + 1
    [event] = events_for(user.pk, "user.updated")
    assert event.detail == {"changes": {"first_name": ["Old", "New"]}}
    assert recorder.seen == [events.UserChanged(user_id=user.pk, fields=frozenset({"first_name"}))]


def test_user_update_repeated_is_a_no_op_without_audit(actor):
    user = UserFactory(first_name="Same")
    user_update(user=user, actor=actor, attributes={"first_name": "Same"})
    user.refresh_from_db()
    assert user.version == 1
    assert events_for(user.pk) == []


def test_user_update_custom_none_removes_only_that_key(actor):
    CustomFieldFactory(key="a", type="string")
    CustomFieldFactory(key="b", type="string")
    user = UserFactory(custom={"a": "1", "b": "2"})
    user_update(user=user, actor=actor, custom={"a": None})
    user.refresh_from_db()
    assert user.custom == {"b": "2"}


def test_user_update_refuses_renaming_onto_another_username_in_other_case(actor):
    UserFactory(username="taken")
    user = UserFactory(username="free")
    with pytest.raises(UniquenessConflict):
        user_update(user=user, actor=actor, attributes={"username": "TAKEN"})
    user.refresh_from_db()
    assert user.username == "free"


def test_manager_is_resolved_by_id_then_external_id_then_username(actor):
    boss = UserFactory(username="boss", external_id="ext-9")
    report = UserFactory()
    user_manager_set(user=report, actor=actor, ref=str(boss.pk))
    assert User.objects.get(pk=report.pk).manager == boss
    user_manager_set(user=report, actor=actor, ref=None)
    user_manager_set(user=report, actor=actor, ref="ext-9")
    assert User.objects.get(pk=report.pk).manager == boss
    user_manager_set(user=report, actor=actor, ref=None)
    user_manager_set(user=report, actor=actor, ref="BOSS")
    assert User.objects.get(pk=report.pk).manager == boss


def test_manager_by_email_is_the_saml_order(actor):
    boss = UserFactory(username="b1", email="boss@example.com")
    report = UserFactory()
    user_manager_set(user=report, actor=actor, ref="Boss@Example.com", order=MANAGER_BY_SAML)
    assert User.objects.get(pk=report.pk).manager == boss


def test_manager_who_arrives_later_is_linked_on_arrival(actor, committing, recorder):
    report = user_create(
        actor=actor, source=Source.SCIM, username="report", manager_ref="mgr-ext-1"
    )
    report.refresh_from_db()
    assert report.manager is None
    assert report.pending_manager_ref == "mgr-ext-1"
    with committing():
        boss = user_create(
            actor=actor,
            source=Source.SCIM,
            username="boss",
            attributes={"external_id": "mgr-ext-1"},
        )
    report.refresh_from_db()
    assert report.manager == boss
    assert report.pending_manager_ref == ""
    assert report.version == 2
    [linked] = events_for(boss.pk, "user.manager_linked")
    assert linked.detail == {"reports": [str(report.pk)]}
    assert (
        events.ManagerChanged(user_ids=frozenset({report.pk}), manager_id=boss.pk) in recorder.seen
    )


def test_pending_manager_is_linked_when_an_existing_user_takes_the_external_id(actor):
    report = user_create(actor=actor, source=Source.SCIM, username="r", manager_ref="later")
    boss = UserFactory(username="boss")
    user_update(user=boss, actor=actor, attributes={"external_id": "later"})
    report.refresh_from_db()
    assert report.manager == boss


def test_a_user_cannot_manage_themselves(actor):
    user = UserFactory(username="self")
    with pytest.raises(ValidationFailed, match="cannot be their own manager"):
        user_manager_set(user=user, actor=actor, ref=str(user.pk))


def test_deactivate_ends_sessions_and_is_idempotent(actor, client, committing, recorder):
    user = UserFactory(username="leaver")
    client.force_login(user)
    assert client.get("/admin/").wsgi_request.user.is_authenticated
    with committing():
        user_deactivate(user=user, actor=actor, reason="left the company")
        user_deactivate(user=user, actor=actor, reason="replayed")
    user.refresh_from_db()
    assert not user.is_active
    assert user.deactivated_at is not None
    assert [e.detail for e in events_for(user.pk)] == [{"reason": "left the company"}]
    # The session row still exists, but it no longer authenticates anyone.
    assert Session.objects.count() == 1
    assert not client.get("/admin/").wsgi_request.user.is_authenticated
    assert recorder.seen == [events.UserChanged(user_id=user.pk, fields=frozenset({"is_active"}))]


def test_reactivate_reverses_deactivation_and_is_idempotent(actor, client):
    user = UserFactory(username="back")
    user.set_password("pw-long-enough-123")
    user.save()
    user_deactivate(user=user, actor=actor)
    assert not client.login(username="back", password="pw-long-enough-123")
    user_reactivate(user=user, actor=actor, reason="rehired")
    user_reactivate(user=user, actor=actor, reason="again")
    user.refresh_from_db()
    assert user.is_active and user.deactivated_at is None
    assert [e.action for e in events_for(user.pk)] == ["user.deactivated", "user.reactivated"]
    assert client.login(username="BACK", password="pw-long-enough-123")


def test_deleting_a_manager_leaves_reports_without_a_manager(actor, committing, recorder):
    boss = UserFactory(username="boss")
    report = UserFactory(manager=boss)
    with committing():
        user_delete(user=boss, actor=actor)
    report.refresh_from_db()
    assert report.manager is None
    assert User.objects.filter(pk=report.pk).exists()
    [event] = events_for(boss.pk, "user.deleted")
    assert event.detail["username"] == "boss"
    assert event.detail["reports_unlinked"] == [str(report.pk)]
    assert events.UserDeleted(user_id=boss.pk) in recorder.seen
    # Their reports' manager changed: one event for all of them (personas re-evaluates).
    assert events.ManagerChanged(user_ids=frozenset({report.pk}), manager_id=None) in recorder.seen


def test_photo_url_publishes_an_event_for_the_image_pipeline(actor, committing, recorder):
    user = UserFactory()
    with committing():
        user_update(
            user=user, actor=actor, attributes={"photo_url": "https://img.example.com/a.png"}
        )
    assert events.PhotoUrlSet(user_id=user.pk, url="https://img.example.com/a.png") in recorder.seen
    with pytest.raises(ValidationFailed, match="photo_url: must be an http"):
        user_update(user=user, actor=actor, attributes={"photo_url": "file:///etc/passwd"})


def test_events_are_not_delivered_when_the_transaction_rolls_back(
    actor, recorder, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                user_create(actor=actor, source=Source.ADMIN, username="ghost")
                raise RuntimeError("boom")
        except RuntimeError:
            pass
    assert recorder.seen == []
    assert not User.objects.filter(username="ghost").exists()


def test_access_set_is_audited_and_withdrawing_staff_ends_sessions(actor):
    user = UserFactory(is_staff=True)
    generation = user.session_generation
    user_access_set(user=user, actor=actor, is_staff=False, is_superuser=False)
    user.refresh_from_db()
    assert not user.is_staff
    assert user.session_generation == generation + 1
    [event] = events_for(user.pk, "user.access_changed")
    assert event.detail == {"changes": {"is_staff": [True, False]}}


def test_audit_trail_is_append_only(actor):
    user = UserFactory()
    user_update(user=user, actor=Actor.admin(user), attributes={"title": "x"})
    event = AuditEvent.objects.get()
    assert event.actor_kind == "admin"
    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        event.delete()
    with pytest.raises(TypeError):
        AuditEvent.objects.update(action="tampered")


def test_custom_values_are_bounded(actor):
    CustomFieldFactory(key="bio", type="string")
    CustomFieldFactory(key="tags", type="list")
    user = UserFactory()
    with pytest.raises(ValidationFailed, match="custom.bio: longer than 2000 characters"):
        user_update(user=user, actor=actor, custom={"bio": "x" * 2001})
    with pytest.raises(ValidationFailed, match="custom.tags: more than 200 values"):
        user_update(user=user, actor=actor, custom={"tags": ["t"] * 201})
    with pytest.raises(ValidationFailed, match="custom.tags: longer than 500 characters"):
        user_update(user=user, actor=actor, custom={"tags": ["t" * 501]})
    user.refresh_from_db()
    assert user.custom == {}
