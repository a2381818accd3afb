"""users.services.manager_ref_is_current: certain without a query, or left to user_update."""

from __future__ import annotations

import uuid

import pytest

from tests.factories import UserFactory
from users.services import MANAGER_BY_SAML, MANAGER_BY_SCIM, ManagerKeys, manager_ref_is_current

pytestmark = pytest.mark.django_db

BOSS_ID = uuid.uuid4()
BOSS = ManagerKeys(id=BOSS_ID, email="Boss@Example.com", username="boss", external_id="E-1")


@pytest.mark.parametrize(
    ("ref", "order", "current"),
    [
        ("boss@example.com", MANAGER_BY_SAML, True),  # email first, case-insensitive
        ("boss", MANAGER_BY_SAML, True),  # no @: email skipped, user name next
        ("E-1", MANAGER_BY_SAML, False),  # a user named "E-1" would win: resolve again
        (str(BOSS_ID), MANAGER_BY_SCIM, True),
        ("E-1", MANAGER_BY_SCIM, True),  # not a UUID: external id next, exact
        ("e-1", MANAGER_BY_SCIM, False),
        ("someone@else.com", MANAGER_BY_SAML, False),
        ("", MANAGER_BY_SAML, False),
    ],
)
def test_only_the_first_applicable_key_decides(ref, order, current):
    user = UserFactory()

    assert manager_ref_is_current(user=user, ref=ref, manager=BOSS, order=order) is current


def test_without_a_manager_the_pending_reference_is_compared():
    user = UserFactory(pending_manager_ref="Later@example.com")
    nobody = ManagerKeys(id=None)

    assert manager_ref_is_current(
        user=user, ref="later@example.com", manager=nobody, order=MANAGER_BY_SAML
    )
    assert not manager_ref_is_current(
        user=user, ref="other@example.com", manager=nobody, order=MANAGER_BY_SAML
    )
