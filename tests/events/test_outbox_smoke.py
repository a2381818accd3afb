import pytest

from events.models import Event
from tests.scim.conftest import ScimClient


@pytest.mark.django_db(transaction=True)
def test_scim_create_is_delivered_signed(endpoint, receiver, provisioning_token):
    from tests.events.conftest import signature_valid

    _, secret = endpoint
    scim = ScimClient(provisioning_token)
    response = scim.post("/Users", {"userName": "ada", "emails": [{"value": "ada@example.com"}]})
    assert response.status_code == 201, response.content
    assert Event.objects.count() == 1
    assert len(receiver.received) == 1
    got = receiver.received[0]
    assert signature_valid(secret, got.headers, got.body)
    assert got.payload["type"] == "user.created"
    assert got.payload["data"]["user"]["userName"] == "ada"
