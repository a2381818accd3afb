"""A real webhook receiver on loopback that checks Standard Webhooks signatures."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from axero_idp.celery import app as celery_app


def signature_valid(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """What a receiver does (README, "Verifying a signature")."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(
        hmac.compare_digest(expected, part.split(",", 1)[1])
        for part in headers["webhook-signature"].split()
        if part.startswith("v1,")
    )


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def payload(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str
    received: list[Received] = field(default_factory=list)
    # Statuses to answer, in order; 200 once they run out.
    script: list[int] = field(default_factory=list)

    def messages(self) -> list[Any]:
        return [r.payload for r in self.received]


@pytest.fixture
def receiver():
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.received.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
            status = state.script.pop(0) if state.script else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/directory"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def private_webhooks(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True


@pytest.fixture
def eager_celery():
    """Tasks run in-process, as under `make run`."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def endpoint(private_webhooks, eager_celery, receiver):
    """An endpoint for every event type at the receiver, and its secret."""
    from events.webhooks import webhook_endpoint_add
    from users.services import Actor

    endpoint, secret = webhook_endpoint_add(url=receiver.url, actor=Actor.system("tests"))
    return endpoint, secret
