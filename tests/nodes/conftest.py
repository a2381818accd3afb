"""Two gunicorn nodes on their own ports sharing the test database and Redis: what a
load balancer in front of two machines sees. The tests use `transactional_db`, so what
the fixtures write in-process is committed and the nodes see it (and the flush at the
end removes it); the nodes are stopped before that flush."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis
from django.conf import settings
from django.core.management import call_command

from tests.conftest import ci_requires
from tests.nodes.processes import (
    Deployment,
    Node,
    database_url_named,
    deployment,
    free_port,
    product_env,
)
from tests.sso.idp_peer import IdpPeer, KeyPair
from users.services import Actor

SLUG = "nodes"


@dataclass
class TwoNodes:
    one: Node
    two: Node
    running: Deployment


@pytest.fixture
def two_nodes(transactional_db, tmp_path) -> Iterator[TwoNodes]:
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/9")
    port_one = free_port()
    env = product_env(
        database_url=database_url_named(settings.DATABASES["default"]["NAME"]),
        redis_url=redis_url,
        # Both nodes answer for one public URL, as behind a load balancer.
        site_url=f"http://127.0.0.1:{port_one}",
    )
    with deployment(env, tmp_path / "logs") as running:
        one = running.node("node-1", port=port_one)
        two = running.node("node-2")
        yield TwoNodes(one, two, running)
        running.check_running()
    assert not running.tracebacks(), running.tracebacks()
    # Tasks the nodes queued for a worker that never ran.
    redis.Redis.from_url(redis_url).flushdb()


@pytest.fixture
def node_peer(two_nodes, tmp_path, peer_keys) -> IdpPeer:
    """The pysaml2 IdP imported as SLUG, trusting the SP metadata node 1 serves."""
    import requests

    peer = IdpPeer(tmp_path / "idp", key=peer_keys["idp-signing"])
    metadata_file = peer.write_metadata(tmp_path / "idp-metadata.xml")
    call_command("saml_idp", "import", "--slug", SLUG, "--metadata-file", str(metadata_file))
    metadata = requests.get(f"{two_nodes.one.base}/sso/{SLUG}/metadata/", timeout=10)
    assert metadata.status_code == 200, metadata.text[:500]
    peer.trust_sp(metadata.text)
    return peer


@pytest.fixture
def node_scim_token(transactional_db) -> str:
    from scim.tokens import scim_token_create

    _, raw = scim_token_create(name="nodes", actor=Actor.system("tests"))
    return raw


@pytest.fixture(scope="session")
def peer_keys(tmp_path_factory) -> dict[str, KeyPair]:
    """The peer signs with Debian's xmlsec1; CI must have it (fail, not skip)."""
    if shutil.which("xmlsec1") is None:
        ci_requires("xmlsec1")
    directory = tmp_path_factory.mktemp("node-idp-keys")
    return {"idp-signing": KeyPair.generate(directory, "idp-signing")}
