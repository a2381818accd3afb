"""The statements sso/ writes by hand (each removes round trips the ORM would need):
one statement each, and the answers the ORM version would give."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sso.hop import pending_response_take
from sso.inbound import ValidLogin
from sso.login import AUTHN, assertion_remember, outstanding_request_remember
from sso.models import IdentityProvider, OutstandingRequest, PendingResponse, SeenAssertion
from sso.refusals import RefusalReason, SamlRefused

pytestmark = pytest.mark.django_db


@pytest.fixture
def idp():
    return IdentityProvider.objects.create(
        slug="acme", entity_id="e", sso_url="https://i.example.com/"
    )


def _valid(assertion_id: str, in_response_to: str | None = None) -> ValidLogin:
    return ValidLogin(
        name_id="ann@example.com",
        name_id_format="",
        session_index="",
        attributes={},
        assertion_id=assertion_id,
        in_response_to=in_response_to,
        accepted_until=int(time.time()) + 300,
    )


def test_remembering_an_assertion_and_consuming_its_request_is_one_statement(idp):
    outstanding_request_remember(
        idp=idp, request_id="_req1", kind=AUTHN, browser="b1", dry_run_by="admin:root"
    )

    with CaptureQueriesContext(connection) as queries:
        consumed = assertion_remember(idp=idp, valid=_valid("_a1", "_req1"), consume_for="b1")

    assert len(queries.captured_queries) == 1
    assert (consumed.ok, consumed.dry_run_by) == (True, "admin:root")
    assert SeenAssertion.objects.filter(idp=idp, assertion_id="_a1").exists()
    assert not OutstandingRequest.objects.filter(request_id="_req1").exists()


def test_another_browsers_request_is_not_consumed_and_a_replay_burns_it(idp):
    outstanding_request_remember(idp=idp, request_id="_req2", kind=AUTHN, browser="b1")

    consumed = assertion_remember(idp=idp, valid=_valid("_a2", "_req2"), consume_for="other")

    assert (consumed.ok, consumed.dry_run_by) == (False, "")
    assert OutstandingRequest.objects.filter(request_id="_req2").exists()
    with pytest.raises(SamlRefused) as refused:
        assertion_remember(idp=idp, valid=_valid("_a2", "_req2"), consume_for="b1")
    assert refused.value.reason is RefusalReason.REPLAY
    # Every part of the statement runs: a replay burns the request it names as well.
    assert not OutstandingRequest.objects.filter(request_id="_req2").exists()


def test_remembering_an_unsolicited_assertion_is_one_statement_and_refuses_a_replay(idp):
    with CaptureQueriesContext(connection) as queries:
        assert assertion_remember(idp=idp, valid=_valid("_a3")) is None
    assert len(queries.captured_queries) == 1

    with CaptureQueriesContext(connection) as again, pytest.raises(SamlRefused) as refused:
        assertion_remember(idp=idp, valid=_valid("_a3"))
    # No savepoint and no rollback: the unique index answers in the same statement.
    assert len(again.captured_queries) == 1
    assert refused.value.reason is RefusalReason.REPLAY


def test_taking_a_parked_response_is_one_statement_and_works_once(idp):
    PendingResponse.objects.create(
        key="k1",
        idp=idp,
        saml_response="PHNhbWw+",
        relay_state="/people/",
        expires_at=timezone.now() + dt.timedelta(minutes=2),
    )

    with CaptureQueriesContext(connection) as queries:
        pending = pending_response_take(idp=idp, key="k1")

    assert len(queries.captured_queries) == 1
    assert (pending.saml_response, pending.relay_state) == ("PHNhbWw+", "/people/")
    with pytest.raises(SamlRefused) as refused:
        pending_response_take(idp=idp, key="k1")
    assert refused.value.reason is RefusalReason.REPLAY


def test_finding_the_account_of_a_name_id_is_one_statement_with_the_manager_keys(idp):
    from sso.accounts import account_find
    from sso.models import SamlIdentity
    from users.models import Connection, User

    boss = User.objects.create(username="boss", email="boss@example.com", external_id="B1")
    ann = User.objects.create(
        username="ann",
        email="ann@example.com",
        manager=boss,
        connection=Connection.objects.create(slug="acme"),
        custom={"persona": "builder", "skills": ["sql", "saml"]},
    )
    SamlIdentity.objects.create(idp=idp, name_id="ann@example.com", user=ann)

    with CaptureQueriesContext(connection) as queries:
        found = account_find(idp, "ann@example.com", None)

    assert len(queries.captured_queries) == 1
    assert found.user == ann
    fields = User._meta.concrete_fields
    stored = User.objects.get(pk=ann.pk)
    assert {f.attname: getattr(found.user, f.attname) for f in fields} == {
        f.attname: getattr(stored, f.attname) for f in fields
    }
    assert found.user._state.adding is False
    assert (found.linked_by, found.has_identity, found.connection_slug) == (
        "name_id",
        True,
        "acme",
    )
    assert (found.manager.id, found.manager.email, found.manager.external_id) == (
        boss.pk,
        "boss@example.com",
        "B1",
    )
    assert found.identity_login_recent is False


def test_the_active_idp_of_a_slug_is_one_statement_and_reads_as_the_orm_does(idp):
    from sso.selectors import idp_active

    idp.signing_certificates = ["MIIBcert"]
    idp.attribute_map = {"email": ["mail"], "roles": ["memberOf"]}
    idp.email_domains = ["example.com"]
    idp.save()
    inactive = IdentityProvider.objects.create(
        slug="old", entity_id="o", sso_url="https://o.example.com/", is_active=False
    )

    with CaptureQueriesContext(connection) as queries:
        found = idp_active("acme")

    assert len(queries.captured_queries) == 1
    expected = IdentityProvider.objects.get(pk=idp.pk)
    assert found is not None and found._state.adding is False
    assert {
        f.attname: getattr(found, f.attname) for f in IdentityProvider._meta.concrete_fields
    } == {f.attname: getattr(expected, f.attname) for f in IdentityProvider._meta.concrete_fields}
    assert found.attribute_map == {"email": ["mail"], "roles": ["memberOf"]}
    assert (idp_active(inactive.slug), idp_active("nobody")) == (None, None)
