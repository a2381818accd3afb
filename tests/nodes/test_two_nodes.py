"""Two gunicorn nodes behind one public URL (issue 15, item 5): nothing that matters
lives in one process's memory. Each test asserts the final state in the shared
database, not only the status codes the nodes answered."""

from __future__ import annotations

import base64
import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.contrib.sessions.models import Session

from sso.models import SamlIdentity, SamlSession
from tests.nodes.conftest import SLUG, TwoNodes
from tests.sso.idp_peer import IdpPeer
from users.models import AuditEvent, Role, RoleMembership

pytestmark = pytest.mark.django_db(transaction=True)

ME = "/api/v1/me/"
SCIM_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
SCIM_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
SCIM_PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _scim(base: str, token: str, method: str, path: str, body: object = None):
    return requests.request(
        method,
        f"{base}/scim/v2{path}",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"},
        data=json.dumps(body) if body is not None else None,
        timeout=60,
    )


def _login_across(nodes: TwoNodes, peer: IdpPeer, browser: requests.Session, email: str):
    """AuthnRequest from node 1, the IdP's Response POSTed to node 2's ACS."""
    start = browser.get(
        f"{nodes.one.base}/sso/{SLUG}/login/", params={"next": ME}, allow_redirects=False
    )
    assert start.status_code == 302, start.text[:500]
    seen = peer.authn_request_read(start.headers["Location"])
    xml = peer.response_xml(name_id=email, in_response_to=seen.id, attributes={"User.email": email})
    return browser.post(
        f"{nodes.two.base}/sso/{SLUG}/acs/",
        data={
            "SAMLResponse": base64.b64encode(xml.encode()).decode(),
            "RelayState": seen.relay_state or "",
        },
        timeout=60,
    )


def test_a_login_started_on_node_one_completes_on_node_two(two_nodes, node_peer):
    browser = requests.Session()

    landed = _login_across(two_nodes, node_peer, browser, "ann@example.com")

    assert landed.status_code == 200, landed.text[:800]
    assert landed.url == f"{two_nodes.two.base}{ME}"
    user = SamlIdentity.objects.select_related("user").get(name_id="ann@example.com").user
    assert landed.json()["id"] == str(user.pk)
    # The AuthnRequest node 1 remembered was consumed by node 2: one login, one SAML session.
    assert SamlSession.objects.filter(user=user).count() == 1
    assert AuditEvent.objects.filter(action="saml.login", target_id=str(user.pk)).count() == 1
    # The session node 2 created is honoured by node 1.
    on_one = browser.get(f"{two_nodes.one.base}{ME}", timeout=30)
    assert on_one.status_code == 200 and on_one.json()["id"] == str(user.pk)


def test_the_same_response_is_not_accepted_twice_across_nodes(two_nodes, node_peer):
    """The replay cache is shared: a Response used on node 2 is refused on node 1."""
    browser = requests.Session()
    start = browser.get(f"{two_nodes.one.base}/sso/{SLUG}/login/", allow_redirects=False)
    seen = node_peer.authn_request_read(start.headers["Location"])
    xml = node_peer.response_xml(
        name_id="bob@example.com",
        in_response_to=seen.id,
        attributes={"User.email": "bob@example.com"},
    )
    form = {
        "SAMLResponse": base64.b64encode(xml.encode()).decode(),
        "RelayState": seen.relay_state or "",
    }

    first = browser.post(f"{two_nodes.two.base}/sso/{SLUG}/acs/", data=form, timeout=60)
    again = requests.Session()
    again.cookies.update(browser.cookies)
    replayed = again.post(f"{two_nodes.one.base}/sso/{SLUG}/acs/", data=form, timeout=60)

    assert first.status_code == 200, first.text[:500]
    assert replayed.status_code == 400, replayed.text[:500]
    user = SamlIdentity.objects.select_related("user").get(name_id="bob@example.com").user
    assert SamlSession.objects.filter(user=user).count() == 1


def test_concurrent_group_patches_alternating_nodes_lose_no_member(two_nodes, node_scim_token):
    nodes = [two_nodes.one.base, two_nodes.two.base]
    group = _scim(
        nodes[0],
        node_scim_token,
        "POST",
        "/Groups",
        {"schemas": [SCIM_GROUP], "displayName": "Engineering"},
    )
    assert group.status_code == 201, group.text
    user_ids = []
    for i in range(24):
        created = _scim(
            nodes[i % 2],
            node_scim_token,
            "POST",
            "/Users",
            {"schemas": [SCIM_USER], "userName": f"member{i}@example.com", "active": True},
        )
        assert created.status_code == 201, created.text
        user_ids.append(created.json()["id"])
    barrier = threading.Barrier(8)

    def add(index: int) -> int:
        if index < 8:
            barrier.wait(timeout=30)  # the first wave really overlaps
        # Two members per request, so adds also overlap on the same group row.
        members = [{"value": user_ids[index]}, {"value": user_ids[(index + 1) % len(user_ids)]}]
        response = _scim(
            nodes[index % 2],
            node_scim_token,
            "PATCH",
            f"/Groups/{group.json()['id']}",
            {
                "schemas": [SCIM_PATCH],
                "Operations": [{"op": "add", "path": "members", "value": members}],
            },
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(add, range(len(user_ids))))

    assert set(codes) <= {200, 204}, codes
    role = Role.objects.get(pk=group.json()["id"])
    stored = set(RoleMembership.objects.filter(role=role).values_list("user_id", flat=True))
    assert {str(u) for u in stored} == set(user_ids)
    assert RoleMembership.objects.filter(role=role).count() == len(user_ids)
    for node in nodes:  # both nodes read the same final member set
        members = _scim(node, node_scim_token, "GET", f"/Groups/{group.json()['id']}").json()[
            "members"
        ]
        assert {m["value"] for m in members} == set(user_ids)


def test_a_session_ended_on_one_node_is_ended_on_the_other(two_nodes, node_peer):
    browser = requests.Session()
    landed = _login_across(two_nodes, node_peer, browser, "cy@example.com")
    assert landed.status_code == 200, landed.text[:800]
    old_cookie = browser.cookies.get("sessionid")
    assert old_cookie and Session.objects.filter(session_key=old_cookie).exists()
    assert browser.get(f"{two_nodes.two.base}{ME}", timeout=30).status_code == 200

    confirm = browser.get(f"{two_nodes.one.base}/sso/{SLUG}/logout/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', confirm.text)
    assert token, confirm.text[:800]
    ended = browser.post(
        f"{two_nodes.one.base}/sso/{SLUG}/logout/",
        data={"csrfmiddlewaretoken": token.group(1)},
        allow_redirects=False,
        timeout=30,
    )
    assert ended.status_code == 302 and ended.headers["Location"].startswith(node_peer.slo_url)

    # The old session cookie, replayed as is on node 2, no longer signs anyone in.
    stale = requests.Session()
    stale.cookies.set("sessionid", old_cookie)
    assert stale.get(f"{two_nodes.two.base}{ME}", timeout=30).status_code == 401
    assert browser.get(f"{two_nodes.two.base}{ME}", timeout=30).status_code == 401
    assert not Session.objects.filter(session_key=old_cookie).exists()
    user = SamlIdentity.objects.select_related("user").get(name_id="cy@example.com").user
    assert not SamlSession.objects.filter(user=user).exists()
    # The IdP's LogoutResponse may come back through node 2: it completes there.
    request = node_peer.logout_request_read(ended.headers["Location"])
    done = browser.get(
        node_peer.logout_response_url(request).replace(two_nodes.one.base, two_nodes.two.base),
        timeout=30,
    )
    assert done.status_code == 200, done.text[:500]
    assert AuditEvent.objects.filter(action="saml.logout", target_id=str(user.pk)).count() == 1
