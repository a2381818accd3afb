"""Directory events benchmark: what the outbox costs a SCIM initial sync, and how fast
one worker delivers events to a webhook endpoint.

    .venv/bin/python bench/events_bench.py --users 10000 --repeat 3

It drops and re-creates the PostgreSQL database `axero_events_bench` (and only that
one), migrates it, and in-process (Django's test client, no HTTP: the difference
between the two modes is what is measured) sends a 10,000-user sync as SCIM Bulk
requests of 1,000 creates, with events on (the outbox listeners subscribed, one
webhook endpoint registered) and off (the listeners unsubscribed), alternating the
order each round. Then one delivery loop (what one Celery worker runs) sends every
event written to a real receiver in another process on 127.0.0.1 that checks each
signature: batched (100 events per request) and, for reference, one event per request.
It prints a Markdown section for BENCHMARKS.md. Every loop is bounded.

Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/axero_events_bench),
BENCH_REDIS_URL (default redis://127.0.0.1:6379/4).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import multiprocessing
import os
import statistics
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/axero_events_bench")
os.environ.setdefault("BENCH_REDIS_URL", "redis://127.0.0.1:6379/4")
os.environ["WEBHOOKS_ALLOW_PRIVATE_NETWORKS"] = "true"

from scim_setup import machine, recreate_database, setup_django

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"


# ---- the receiver (its own process: its CPU is not the worker's) ---------------------


def _receiver(secret: str, port: Any, received: Any, bad: Any) -> None:
    key = base64.b64decode(secret.removeprefix("whsec_"))

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            signed = f"{self.headers['webhook-id']}.{self.headers['webhook-timestamp']}."
            mac = hmac.new(key, signed.encode() + body, hashlib.sha256).digest()
            if self.headers["webhook-signature"] != "v1," + base64.b64encode(mac).decode():
                bad.value += 1
            payload = json.loads(body)
            received.value += len(payload) if isinstance(payload, list) else 1
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port.value = server.server_address[1]
    server.serve_forever()


# ---- the sync -------------------------------------------------------------------------


def _bulk_body(prefix: str, size: int) -> str:
    operations = [
        {
            "method": "POST",
            "path": "/Users",
            "bulkId": f"u{n}",
            "data": {
                "schemas": [USER_SCHEMA],
                "userName": f"{prefix}-{n}@example.com",
                "name": {"givenName": "New", "familyName": f"User{n}"},
                "emails": [{"value": f"{prefix}-{n}@example.com", "type": "work"}],
                "externalId": f"{prefix}-{n}",
                "active": True,
            },
        }
        for n in range(size)
    ]
    return json.dumps({"schemas": [BULK_REQUEST], "Operations": operations})


def _events_on(on: bool) -> None:
    from events import recording
    from personas import events as membership_events
    from users import events

    if on:
        recording.subscribe_all()
        return
    # Every in-transaction listener the outbox registered (events.recording.subscribe_all).
    for event_type, handlers in events._in_transaction.items():
        for handler in list(handlers):
            if getattr(handler, "__module__", "") == recording.__name__:
                events.unsubscribe(event_type, handler)
    membership_events._sinks.clear()


def sync(token: str, prefix: str, users: int, size: int = 1000) -> float:
    """Users per second for a sync of `users` as Bulk requests of `size` creates."""
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    bodies = [_bulk_body(f"{prefix}-{b}", size) for b in range(users // size)]
    started = time.perf_counter()
    for body in bodies:
        response = client.post(
            "/scim/v2/Bulk",
            body,
            content_type="application/scim+json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        statuses = {op["status"] for op in response.json()["Operations"]}
        assert response.status_code == 200 and statuses == {"201"}, response.content[:300]
    return users / (time.perf_counter() - started)


# ---- delivery -------------------------------------------------------------------------


def deliver_all(endpoint_id: int, limit_seconds: float = 600) -> tuple[int, float]:
    """Run the delivery loop (one worker) until the endpoint is idle."""
    from events.delivery import webhook_endpoint_deliver
    from events.models import Event, WebhookEndpoint

    endpoint = WebhookEndpoint.objects.get(pk=endpoint_id)
    pending = Event.objects.filter(position__gt=endpoint.cursor).count()
    started = time.perf_counter()
    while time.perf_counter() - started < limit_seconds:
        outcome = webhook_endpoint_deliver(endpoint_id)
        if outcome != "delivered":
            break
    return pending, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--unbatched", type=int, default=2_000, help="events sent one by one")
    args = parser.parse_args()

    recreate_database()
    setup_django()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from axero_idp.celery import app
    from events.models import Event, WebhookEndpoint
    from events.sequencing import events_stamp
    from events.webhooks import webhook_endpoint_add
    from scim.tokens import scim_token_create
    from users.services import Actor

    _, token = scim_token_create(name="bench", actor=Actor.system("bench"))
    received = multiprocessing.Value("q", 0)
    bad = multiprocessing.Value("q", 0)
    port = multiprocessing.Value("i", 0)
    # The secret is needed before the endpoint exists: make it, then start the receiver.
    endpoint, secret = webhook_endpoint_add(
        url="http://127.0.0.1:9/placeholder", batch=True, actor=Actor.system("bench")
    )
    receiver = multiprocessing.Process(
        target=_receiver, args=(secret, port, received, bad), daemon=True
    )
    receiver.start()
    for _ in range(100):
        if port.value:
            break
        time.sleep(0.05)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        url=f"http://127.0.0.1:{port.value}/hooks"
    )

    load_before = os.getloadavg()
    rates: dict[str, list[float]] = {"on": [], "off": []}
    for round_ in range(args.repeat):
        order = ["on", "off"] if round_ % 2 == 0 else ["off", "on"]
        for mode in order:
            _events_on(mode == "on")
            rates[mode].append(sync(token, f"r{round_}{mode}", args.users))
            print(f"round {round_} events {mode}: {rates[mode][-1]:.0f} users/s", flush=True)
    _events_on(True)
    app.control.purge()  # the dispatches the syncs queued: no worker runs here

    stamp_started = time.perf_counter()
    stamped = events_stamp()
    stamp_seconds = time.perf_counter() - stamp_started
    batched_events, batched_seconds = deliver_all(endpoint.pk)
    delivered_batched = received.value

    # One event per request, for reference: the newest `unbatched` events again.
    top = Event.objects.order_by("-position").values_list("position", flat=True).first() or 0
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        batch=False, cursor=max(top - args.unbatched, 0)
    )
    single_events, single_seconds = deliver_all(endpoint.pk)
    load_after = os.getloadavg()
    connection.close()
    receiver.terminate()

    on, off = statistics.median(rates["on"]), statistics.median(rates["off"])
    info = machine()
    print()
    print(f"### Results ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})")
    print()
    print(
        f"Machine: {info}; load average {load_before[0]:.1f} at the start, "
        f"{load_after[0]:.1f} at the end."
    )
    print()
    print("| measurement | result | target |")
    print("| --- | --- | --- |")
    print(
        f"| {args.users:,}-user Bulk sync, events off | {off:,.0f} users/s "
        f"(rounds {min(rates['off']):,.0f}-{max(rates['off']):,.0f}) | |"
    )
    print(
        f"| {args.users:,}-user Bulk sync, events on (one webhook endpoint) | {on:,.0f} users/s "
        f"(rounds {min(rates['on']):,.0f}-{max(rates['on']):,.0f}) | |"
    )
    print(f"| slowdown, median on vs off | {(1 - on / off) * 100:.1f} % | at most 10 % |")
    print(f"| stamping {stamped:,} events (commit order) | {stamp_seconds * 1000:.0f} ms | |")
    print(
        f"| delivery, one worker, batches of 100 | "
        f"{batched_events / batched_seconds:,.0f} events/s ({batched_events:,} events, "
        f"{batched_seconds:.1f} s; receiver counted {delivered_batched:,}, "
        f"{bad.value} bad signatures) | at least 1,000/s |"
    )
    print(
        f"| delivery, one worker, one event per request | "
        f"{single_events / single_seconds:,.0f} events/s ({single_events:,} events) | |"
    )


if __name__ == "__main__":
    sys.exit(main())
