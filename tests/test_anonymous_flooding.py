"""Anonymous requests cannot fill tables (issue 8, finding 14): an unknown SAML slug
writes no audit row, a known IdP's refusals and token-less SCIM requests a few per
minute; every one of them is still logged with its reference."""

from __future__ import annotations

import pytest

from scim.models import ScimRequestLog
from sso.models import IdentityProvider, LoginFlow
from tests.scim.conftest import ScimClient
from users.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def idp(db) -> IdentityProvider:
    return IdentityProvider.objects.create(
        slug="acme",
        entity_id="https://idp.example.com/md",
        sso_url="https://idp.example.com/sso",
        signing_certificates=[],
    )


def test_200_posts_to_an_unknown_slug_write_no_audit_row(client, caplog):
    statuses = {
        client.post(f"/sso/nonexistent-{i % 7}/acs/", {"SAMLResponse": "eA=="}).status_code
        for i in range(200)
    }

    assert statuses == {404}
    assert not AuditEvent.objects.exists()
    refused = [r for r in caplog.records if r.getMessage() == "SAML message refused: unknown_idp"]
    assert len(refused) == 200


def test_an_unknown_slug_page_still_carries_a_reference_found_in_the_log(client, caplog):
    response = client.get("/sso/nobody/login/")

    record = next(r for r in caplog.records if r.getMessage().startswith("SAML message refused"))
    assert response.status_code == 404
    assert record.reference in response.content.decode()
    assert (record.idp, record.audited) == ("nobody", False)


def test_200_garbage_posts_to_a_known_idp_write_a_bounded_number_of_login_flow_rows(
    client, idp, settings
):
    settings.SAML_REFUSAL_AUDIT_PER_MINUTE = 30

    statuses = {
        client.post("/sso/acme/acs/", {"SAMLResponse": "PHg+"}).status_code for _ in range(200)
    }

    assert statuses == {400}
    assert LoginFlow.objects.filter(outcome="refused", idp_slug="acme").count() == 30


def test_the_first_refusals_of_a_known_idp_are_still_kept(client, idp):
    client.post("/sso/acme/acs/", {"SAMLResponse": "PHg+"})

    flow = LoginFlow.objects.get(outcome="refused")
    assert (flow.idp_slug, flow.reason) == ("acme", "malformed")


def test_200_unauthenticated_scim_requests_write_a_bounded_number_of_rows(db, settings, caplog):
    settings.SCIM_UNAUTHENTICATED_LOG_PER_MINUTE = 10
    wrong, missing = ScimClient("axscim_wrong"), ScimClient(None)

    statuses = {
        (wrong if i % 2 else missing).get(f"/Users?startIndex={i}").status_code for i in range(200)
    }

    assert statuses == {401}
    assert ScimRequestLog.objects.count() == 10
    logged = [r for r in caplog.records if "SCIM request without a valid token" in r.getMessage()]
    assert len(logged) == 200


def test_authenticated_scim_requests_are_all_logged(provisioning_token, settings):
    scim = ScimClient(provisioning_token)
    settings.SCIM_UNAUTHENTICATED_LOG_PER_MINUTE = 1

    for _ in range(5):
        scim.get("/Users")

    assert ScimRequestLog.objects.count() == 5
