"""A login that is refused late leaves the browser's session as it was, and never
commits half of what a failed transaction wrote."""

from __future__ import annotations

import pytest
from django.db import transaction

from axero_idp.errors import ValidationFailed
from sso import provisioning
from sso.models import SamlSession, SeenAssertion
from tests.sso.conftest import assert_refused

pytestmark = pytest.mark.django_db

ANN = "ann@example.com"


def _login_started_by(browser):
    started = browser.start()
    xml = browser.peer.response_xml(
        name_id=ANN, in_response_to=started.request.id, attributes={"User.email": ANN}
    )
    return xml, started.request.relay_state


def test_a_refusal_in_role_sync_happens_before_the_session_is_touched(browser, client, monkeypatch):
    def refuse(**kwargs):
        raise ValidationFailed("roles: refused for the test")

    monkeypatch.setattr(provisioning, "user_roles_sync", refuse)
    xml, relay_state = _login_started_by(browser)

    response = browser.post(xml, relay_state)

    assert_refused(response, client, "validation")
    assert not SamlSession.objects.exists()
    # The refusal kept what it consumed: the assertion cannot be posted again.
    assert SeenAssertion.objects.count() == 1


def test_a_failure_that_dooms_the_transaction_rolls_the_whole_login_back(
    browser, client, monkeypatch
):
    def refuse_without_savepoint(**kwargs):
        with transaction.atomic(savepoint=False):
            raise ValidationFailed("roles: refused inside the login's transaction")

    monkeypatch.setattr(provisioning, "user_roles_sync", refuse_without_savepoint)
    xml, relay_state = _login_started_by(browser)

    response = browser.post(xml, relay_state)

    assert_refused(response, client, "validation")
    assert not SamlSession.objects.exists()
    assert SeenAssertion.objects.count() == 0  # nothing half-committed
