"""Load with a consistency check (issue 15, item 6): the workload and the checker that
bench/load.py runs for a minute and tests/nodes/test_load_check.py runs for seconds.

The workload runs at once, against every node in turn (round robin per request):
- SCIM threads, each in a loop: create a user, update it (PATCH replace title), add it
  to one of a few shared groups (PATCH add members: the groups are contended), and
  every few rounds a /Bulk of users;
- a SAML thread: SP-initiated logins through the pysaml2 IdP peer, AuthnRequest from
  one node and the Response to the next node's ACS (JIT provisioning, a few people
  logging in again and again);
- a webhook receiver on loopback, subscribed to every event type, fed by the Celery
  worker.

The ledger records what the servers acknowledged (2xx) and every other answer. After
the load the checker waits for the outbox to drain (bounded) and compares the final
state in PostgreSQL with the ledger: every acknowledged user exists once with its last
acknowledged title, every group holds exactly the acknowledged members, each change has
its one audit record and its one event, and the receiver got each event id exactly once.
The checker reads through the ORM: Django must be set up on the servers' database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

SCIM_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
SCIM_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
SCIM_PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SCIM_BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
IDP_SLUG = "load"
GROUPS = 3
BULK_EVERY = 4
BULK_SIZE = 5
SAML_PEOPLE = 8
TIMEOUT = 60.0


# -- the webhook receiver --------------------------------------------------------------


@dataclass
class Receiver:
    """Keeps the id of every event delivered to it, and counts bad signatures."""

    secret: str = ""
    event_ids: list[str] = field(default_factory=list)
    bad_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_port}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.take({k.lower(): v for k, v in self.headers.items()}, body)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def take(self, headers: dict[str, str], body: bytes) -> None:
        payload = json.loads(body)
        events = payload if isinstance(payload, list) else [payload]
        with self.lock:
            if not signature_valid(self.secret, headers, body):
                self.bad_signatures += 1
            self.event_ids.extend(str(event["id"]) for event in events)

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def signature_valid(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Standard Webhooks: HMAC-SHA256 over "id.timestamp.body" (README)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers.get('webhook-id')}.{headers.get('webhook-timestamp')}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(
        hmac.compare_digest(expected, part.split(",", 1)[1])
        for part in headers.get("webhook-signature", "").split()
        if part.startswith("v1,")
    )


# -- what was sent and acknowledged ----------------------------------------------------


@dataclass
class Ledger:
    """What the servers acknowledged (thread-safe)."""

    tag: str
    answers: Counter[tuple[str, int]] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    created: dict[str, str] = field(default_factory=dict)  # user id -> userName
    titles: dict[str, str] = field(default_factory=dict)  # user id -> last title
    updates: Counter[str] = field(default_factory=Counter)  # user id -> acknowledged updates
    members: dict[str, set[str]] = field(default_factory=dict)  # group id -> user ids
    member_patches: Counter[str] = field(default_factory=Counter)  # group id -> PATCHes
    logins: Counter[str] = field(default_factory=Counter)  # SAML NameID -> logins
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, op: str, status: int) -> None:
        with self.lock:
            self.answers[(op, status)] += 1

    def error(self, op: str, exc: BaseException) -> None:
        with self.lock:
            self.answers[(op, 0)] += 1
            self.errors.append(f"{op}: {exc!r}"[:300])

    def count(self, predicate: Callable[[int], bool]) -> int:
        return sum(n for (_, status), n in self.answers.items() if predicate(status))


# -- the workload ----------------------------------------------------------------------


@dataclass
class Load:
    bases: Sequence[str]
    token: str
    ledger: Ledger
    group_ids: list[str]
    deadline: float
    _turn: itertools.count[int] = field(default_factory=itertools.count)

    def base(self) -> str:
        """The nodes in turn, request by request (a round-robin load balancer)."""
        return self.bases[next(self._turn) % len(self.bases)]

    def scim(self, op: str, method: str, path: str, body: Any, expect: set[int]) -> Any:
        try:
            response = requests.request(
                method,
                f"{self.base()}/scim/v2{path}",
                headers={
                    "Authorization": f"Bearer {self.token}",
                    "Content-Type": "application/scim+json",
                },
                data=json.dumps(body),
                timeout=TIMEOUT,
            )
        except requests.RequestException as exc:
            self.ledger.error(op, exc)
            return None
        self.ledger.answer(op, response.status_code)
        if response.status_code not in expect:
            with self.ledger.lock:
                self.ledger.errors.append(f"{op}: {response.status_code} {response.text[:200]}")
            return None
        return response.json() if response.content else {}

    def user_body(self, name: str) -> dict[str, Any]:
        return {
            "schemas": [SCIM_USER],
            "userName": f"{name}@load.example.com",
            "name": {"givenName": "Load", "familyName": name},
            "emails": [{"value": f"{name}@load.example.com", "type": "work", "primary": True}],
            "externalId": name,
            "active": True,
        }

    def create(self, name: str) -> str | None:
        created = self.scim("create", "POST", "/Users", self.user_body(name), {201})
        if created is None:
            return None
        with self.ledger.lock:
            self.ledger.created[created["id"]] = created["userName"]
        return str(created["id"])

    def update(self, user_id: str, title: str) -> None:
        body = {
            "schemas": [SCIM_PATCH],
            "Operations": [{"op": "replace", "path": "title", "value": title}],
        }
        if self.scim("update", "PATCH", f"/Users/{user_id}", body, {200, 204}) is not None:
            with self.ledger.lock:
                self.ledger.titles[user_id] = title
                self.ledger.updates[user_id] += 1

    def add_member(self, group_id: str, user_id: str) -> None:
        body = {
            "schemas": [SCIM_PATCH],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": user_id}]}],
        }
        if self.scim("group_patch", "PATCH", f"/Groups/{group_id}", body, {200, 204}) is not None:
            with self.ledger.lock:
                self.ledger.members.setdefault(group_id, set()).add(user_id)
                self.ledger.member_patches[group_id] += 1

    def bulk(self, names: list[str]) -> None:
        body = {
            "schemas": [SCIM_BULK],
            "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": name, "data": self.user_body(name)}
                for name in names
            ],
        }
        answer = self.scim("bulk", "POST", "/Bulk", body, {200})
        if answer is None:
            return
        for op in answer["Operations"]:
            self.ledger.answer("bulk_op", int(op["status"]))
            if op["status"] == "201":
                user_id = op["location"].rsplit("/", 1)[-1]
                with self.ledger.lock:
                    self.ledger.created[user_id] = f"{op['bulkId']}@load.example.com"

    def scim_thread(self, number: int) -> None:
        for round_ in itertools.count():
            if time.monotonic() >= self.deadline:
                return
            name = f"{self.ledger.tag}-t{number}-{round_}"
            user_id = self.create(name)
            if user_id is not None:
                self.update(user_id, f"Title {round_}")
                self.update(user_id, f"Title {round_} final")
                self.add_member(self.group_ids[(number + round_) % len(self.group_ids)], user_id)
            if round_ % BULK_EVERY == BULK_EVERY - 1:
                self.bulk([f"{name}-b{i}" for i in range(BULK_SIZE)])


def saml_thread(load: Load, peer: Any) -> None:
    """SP-initiated logins: AuthnRequest from one node, the Response to another's ACS."""
    for round_ in itertools.count():
        if time.monotonic() >= load.deadline:
            return
        email = f"{load.ledger.tag}-saml{round_ % SAML_PEOPLE}@load.example.com"
        browser = requests.Session()
        try:
            start = browser.get(
                f"{load.base()}/sso/{IDP_SLUG}/login/",
                params={"next": "/api/v1/me/"},
                allow_redirects=False,
                timeout=TIMEOUT,
            )
            load.ledger.answer("saml_start", start.status_code)
            seen = peer.authn_request_read(start.headers["Location"])
            xml = peer.response_xml(
                name_id=email, in_response_to=seen.id, attributes={"User.email": email}
            )
            landed = browser.post(
                f"{load.base()}/sso/{IDP_SLUG}/acs/",
                data={
                    "SAMLResponse": base64.b64encode(xml.encode()).decode(),
                    "RelayState": seen.relay_state or "",
                },
                timeout=TIMEOUT,
            )
        except (requests.RequestException, KeyError, AssertionError) as exc:
            load.ledger.error("saml_login", exc)
            continue
        load.ledger.answer("saml_login", landed.status_code)
        if landed.status_code == 200 and landed.url.endswith("/api/v1/me/"):
            with load.ledger.lock:
                load.ledger.logins[email] += 1
        else:
            with load.ledger.lock:
                load.ledger.errors.append(f"saml_login: {landed.status_code} {landed.text[:200]}")


# -- setting up a deployment for the load ----------------------------------------------


@dataclass
class Setup:
    token: str
    group_ids: list[str]
    peer: Any
    receiver: Receiver
    tag: str
    # The endpoint receives the events stamped after this position (webhook_endpoint_add).
    first_position: int


def prepare(bases: Sequence[str], workdir: Any, peer_key: Any = None) -> Setup:
    """In-process, on the servers' database: a SCIM token, a webhook endpoint for every
    event type (the receiver), the IdP peer imported as IDP_SLUG; the groups by SCIM."""
    from django.core.management import call_command

    from events.webhooks import webhook_endpoint_add
    from scim.tokens import scim_token_create
    from tests.sso.idp_peer import IdpPeer
    from users.services import Actor

    tag = f"l{uuid.uuid4().hex[:8]}"
    actor = Actor.system("load")
    _, token = scim_token_create(name=f"load-{tag}", actor=actor)
    receiver = Receiver().start()
    endpoint, receiver.secret = webhook_endpoint_add(url=receiver.url, actor=actor)
    peer = IdpPeer(workdir / "idp", key=peer_key)
    metadata_file = peer.write_metadata(workdir / "idp-metadata.xml")
    call_command("saml_idp", "import", "--slug", IDP_SLUG, "--metadata-file", str(metadata_file))
    metadata = requests.get(f"{bases[0]}/sso/{IDP_SLUG}/metadata/", timeout=TIMEOUT)
    metadata.raise_for_status()
    peer.trust_sp(metadata.text)
    group_ids = []
    for n in range(GROUPS):
        group = requests.post(
            f"{bases[n % len(bases)]}/scim/v2/Groups",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"},
            data=json.dumps({"schemas": [SCIM_GROUP], "displayName": f"{tag} group {n}"}),
            timeout=TIMEOUT,
        )
        group.raise_for_status()
        group_ids.append(group.json()["id"])
    return Setup(token, group_ids, peer, receiver, tag, endpoint.cursor)


def run_load(setup: Setup, bases: Sequence[str], *, seconds: float, scim_threads: int) -> Ledger:
    """The whole workload at once for `seconds` (each thread stops at the deadline)."""
    ledger = Ledger(tag=setup.tag)
    load = Load(bases, setup.token, ledger, setup.group_ids, time.monotonic() + seconds)
    threads = [
        threading.Thread(target=load.scim_thread, args=(n,), name=f"scim-{n}")
        for n in range(scim_threads)
    ]
    threads.append(threading.Thread(target=saml_thread, args=(load, setup.peer), name="saml"))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 4 * TIMEOUT)
    return ledger


# -- the checker -----------------------------------------------------------------------


@dataclass
class Verdict:
    counts: dict[str, Any]
    problems: dict[str, int]
    examples: list[str]
    drained_in: float

    @property
    def passed(self) -> bool:
        return not any(self.problems.values())

    def text(self) -> str:
        lines = ["PASS" if self.passed else "FAIL"]
        lines += [f"  {k}: {v}" for k, v in self.counts.items()]
        lines.append(f"  outbox drained in {self.drained_in:.1f} s")
        lines += [f"  problem {k}: {v}" for k, v in self.problems.items() if v]
        lines += [f"  e.g. {e}" for e in self.examples[:10]]
        return "\n".join(lines)


def drain(*, timeout: float, check_running: Callable[[], None] | None = None) -> float:
    """Wait until every event is stamped and every endpoint's cursor has passed it."""
    from events.models import Event, WebhookEndpoint

    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check_running is not None:
            check_running()
        top = Event.objects.exclude(position=None).order_by("-position").first()
        unstamped = Event.objects.filter(position=None).exists()
        behind = WebhookEndpoint.objects.filter(
            active=True, cursor__lt=top.position if top else 0
        ).exists()
        if not unstamped and not behind:
            return time.monotonic() - started
        time.sleep(0.5)
    return -1.0


def check(ledger: Ledger, setup: Setup, drained_in: float) -> Verdict:
    """Compare the final state with what was acknowledged."""
    problems: Counter[str] = Counter()
    examples: list[str] = []

    def problem(kind: str, example: str, n: int = 1) -> None:
        problems[kind] += n
        examples.append(f"{kind}: {example}")

    problems["5xx answers"] += ledger.count(lambda s: s >= 500)
    problems["transport errors"] += ledger.count(lambda s: s == 0)
    examples += ledger.errors[:5]
    problems["outbox not drained"] += int(drained_in < 0)
    receiver = setup.receiver
    problems["bad webhook signatures"] += receiver.bad_signatures
    _check_users(ledger, problem)
    _check_memberships(ledger, problem)
    saml_users = _check_saml(ledger, problem)
    delivered = _check_events(ledger, setup, problem, set(ledger.created) | saml_users)
    counts = {
        "requests": sum(n for (op, _), n in ledger.answers.items() if op != "bulk_op"),
        "answers": dict(
            sorted(Counter({f"{op} {s}": n for (op, s), n in ledger.answers.items()}).items())
        ),
        "users created (SCIM + Bulk)": len(ledger.created),
        "user updates": sum(ledger.updates.values()),
        "memberships": sum(len(m) for m in ledger.members.values()),
        "SAML logins": sum(ledger.logins.values()),
        "webhook events delivered": delivered,
    }
    return Verdict(counts, dict(problems), examples, drained_in)


Problem = Callable[..., None]


def _check_users(ledger: Ledger, problem: Problem) -> None:
    from users.models import AuditEvent, User

    stored = dict(
        User.objects.filter(username__startswith=ledger.tag).values_list("pk", "username")
    )
    stored = {str(k): v for k, v in stored.items() if not v.startswith(f"{ledger.tag}-saml")}
    for user_id, name in ledger.created.items():
        if stored.get(user_id, "").lower() != name.lower():
            problem("lost users", f"{user_id} {name}")
    for user_id in set(stored) - set(ledger.created):
        problem("users nobody acknowledged (duplicates)", user_id)
    titles = dict(User.objects.filter(pk__in=list(ledger.titles)).values_list("pk", "title"))
    for user_id, title in ledger.titles.items():
        if titles.get(uuid.UUID(user_id)) != title:
            problem("lost updates", f"{user_id}: {titles.get(uuid.UUID(user_id))!r} != {title!r}")
    _audit_once(
        AuditEvent.objects.filter(action="user.created", target_id__in=list(stored)),
        Counter(dict.fromkeys(ledger.created, 1)),
        "user.created audit",
        problem,
    )
    _audit_once(
        AuditEvent.objects.filter(action="user.updated", target_id__in=list(ledger.updates)),
        ledger.updates,
        "user.updated audit",
        problem,
    )


def _audit_once(rows: Any, expected: Counter[str], what: str, problem: Problem) -> None:
    found = Counter(str(t) for t in rows.values_list("target_id", flat=True))
    for target in set(found) | set(expected):
        if found[target] < expected[target]:
            problem(f"lost {what}", target, expected[target] - found[target])
        elif found[target] > expected[target]:
            problem(f"duplicated {what}", target, found[target] - expected[target])


def _check_memberships(ledger: Ledger, problem: Problem) -> None:
    from users.models import AuditEvent, RoleMembership

    for group_id, expected in ledger.members.items():
        rows = list(
            RoleMembership.objects.filter(role_id=group_id, source="scim").values_list(
                "user_id", flat=True
            )
        )
        stored = {str(u) for u in rows}
        for user_id in expected - stored:
            problem("lost memberships", f"{group_id} {user_id}")
        for user_id in stored - expected:
            problem("memberships nobody acknowledged", f"{group_id} {user_id}")
        if len(rows) != len(stored):
            problem("duplicated memberships", group_id, len(rows) - len(stored))
    audits = AuditEvent.objects.filter(
        action="role.members_added", target_id__in=list(ledger.members)
    )
    _audit_once(audits, ledger.member_patches, "role.members_added audit", problem)


def _check_saml(ledger: Ledger, problem: Problem) -> set[str]:
    from sso.models import SamlIdentity
    from users.models import AuditEvent

    identities = Counter(
        SamlIdentity.objects.filter(name_id__in=list(ledger.logins)).values_list(
            "name_id", flat=True
        )
    )
    for email in ledger.logins:
        if identities[email] != 1:
            problem("SAML identities not exactly one", f"{email}: {identities[email]}")
    user_ids = {
        str(pk)
        for pk in SamlIdentity.objects.filter(name_id__in=list(ledger.logins)).values_list(
            "user_id", flat=True
        )
    }
    logins = AuditEvent.objects.filter(action="saml.login", target_id__in=list(user_ids))
    expected = Counter()
    names = dict(
        SamlIdentity.objects.filter(name_id__in=list(ledger.logins)).values_list(
            "user_id", "name_id"
        )
    )
    for user_id, email in names.items():
        expected[str(user_id)] = ledger.logins[email]
    _audit_once(logins, expected, "saml.login audit", problem)
    return user_ids


def _check_events(ledger: Ledger, setup: Setup, problem: Problem, user_ids: set[str]) -> int:
    from events.models import Event, event_public_id

    created = Counter(
        str(d)
        for d in Event.objects.filter(type="user.created").values_list(
            "data__user_row__id", flat=True
        )
    )
    for user_id in user_ids:
        if created[user_id] != 1:
            problem("user.created events not exactly one", f"{user_id}: {created[user_id]}")
    added: Counter[str] = Counter()
    for data in Event.objects.filter(
        type="role.members_changed", data__role__id__in=list(ledger.members)
    ).values_list("data", flat=True):
        added.update(f"{data['role']['id']} {u}" for u in data["added"])
    expected = Counter(f"{g} {u}" for g, members in ledger.members.items() for u in members)
    if added != expected:
        problem(
            "role.members_changed events differ",
            str((added - expected) or (expected - added))[:200],
        )
    with setup.receiver.lock:
        delivered = Counter(setup.receiver.event_ids)
    outbox = {
        event_public_id(pk)
        for pk in Event.objects.filter(position__gt=setup.first_position).values_list(
            "pk", flat=True
        )
    }
    for event_id, n in delivered.items():
        if n > 1:
            problem("webhook events delivered more than once", event_id, n - 1)
    for event_id in outbox - set(delivered):
        problem("webhook events never delivered", event_id)
    for event_id in set(delivered) - outbox:
        problem("webhook events not in the outbox", event_id)
    return sum(delivered.values())
