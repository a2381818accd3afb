"""PATCH edge cases found by review (RFC 7644 §3.5.2 and the IdP dialects)."""

from __future__ import annotations

import pytest

from tests.factories import UserFactory
from tests.scim.conftest import error

pytestmark = pytest.mark.django_db

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
WORK_ADDRESS = 'addresses[type eq "work"]'


@pytest.mark.parametrize(
    "sub", ["streetAddress", "locality", "region", "postalCode", "country", "formatted"]
)
def test_entra_work_address_patches_are_accepted_and_change_nothing_kept(scim, sub):
    user = UserFactory(title="Engineer")
    body = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "Add", "path": f"{WORK_ADDRESS}.{sub}", "value": "1 Main St"}],
    }

    response = scim.patch(f"/Users/{user.pk}", body)

    assert response.status_code == 200, response.content
    assert response.json()["title"] == "Engineer"
    assert "addresses" not in response.json()


def test_an_unknown_address_sub_attribute_is_invalid_path(scim):
    user = UserFactory()
    body = {"Operations": [{"op": "add", "path": f"{WORK_ADDRESS}.street", "value": "x"}]}

    response = scim.patch(f"/Users/{user.pk}", body)

    assert response.json() == error(
        400, "unknown sub-attribute 'street' of 'addresses'", "invalidPath"
    )
