"""In-process probe of the SAML login's own cost: the ACS POST through Django's test client.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<a migrated copy> REDIS_URL=... \
    SECRET_KEY=x DEBUG=false SITE_URL=http://127.0.0.1 CELERY_TASK_ALWAYS_EAGER=false \
    [PROBE_ROOT=<another checkout>] .venv/bin/python bench/saml_probe.py [logins] [rounds]

Run by hand on a throw-away copy of a migrated database (it imports the IdP peer as
`bench`, defines the custom field `persona`, and creates 50 users). As bench/saml_bench.py
does, outside the timed part it opens every login (GET /login/, the AuthnRequest ID bound
to that client's browser binding cookie) and signs a response for each with the pysaml2
peer (xmlsec1); then, timed, it POSTs each to the ACS with only the binding cookie (what
a browser on an https site sends cross-site) and checks the 303 to the landing path.
Each round's responses carry the bench's 9 attributes, 2 of the 5 roles changed from the
round before, so a user's first login of a round changes roles and the others do not.

Prints per login: Python CPU (time.process_time), the PostgreSQL backend's CPU
(/proc/<pid>/stat), statements. Options by environment: PERSTMT=1 adds each statement's
backend CPU (/proc/<pid>/schedstat); SHOWSQL=1 prints the SQL of one role-changing and
one repeat login; PROFILE=1 profiles the timed part with cProfile (process_time timer)
and prints the top functions by cumulative and own time.
"""

from __future__ import annotations

import collections
import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

# PROBE_ROOT: the checkout to measure (default this one), e.g. an export of an earlier
# commit for before/after runs.
ROOT = Path(os.environ.get("PROBE_ROOT", Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "axero_idp.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from bench.saml_bench import SLUG, attributes_for  # noqa: E402
from sso.browser_binding import COOKIE_NAME  # noqa: E402
from tests.sso.idp_peer import IdpPeer, KeyPair, post_form  # noqa: E402
from users.services import Actor, custom_field_define  # noqa: E402

USERS = 50
LANDING = "/api/v1/me/"
HOST = settings.SITE_URL.split("://", 1)[1]


def backend_pid() -> int:
    connection.ensure_connection()
    return int(connection.connection.info.backend_pid)


def backend_cpu() -> float:
    fields = Path(f"/proc/{backend_pid()}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backend_sched_ns() -> int:
    return int(Path(f"/proc/{backend_pid()}/schedstat").read_text().split()[0])


def setup(workdir: Path) -> IdpPeer:
    peer = IdpPeer(workdir / "idp", key=KeyPair.generate(workdir, "idp"))
    metadata = peer.write_metadata(workdir / "idp-metadata.xml")
    call_command("saml_idp", "import", "--slug", SLUG, "--metadata-file", str(metadata))
    custom_field_define(key="persona", type="string", label="Persona", actor=Actor.system("probe"))
    sp = Client(HTTP_HOST=HOST).get(f"/sso/{SLUG}/metadata/")
    assert sp.status_code == 200, sp.content[:300]
    peer.trust_sp(sp.content)
    return peer


def prepared(peer: IdpPeer, count: int, round_no: int) -> list[tuple[Client, dict[str, str]]]:
    """Untimed: open `count` logins, each in its own client, and sign their responses."""
    out = []
    for index in range(count):
        client = Client(HTTP_HOST=HOST)
        started = client.get(f"/sso/{SLUG}/login/", {"next": LANDING})
        assert started.status_code == 302, started.content[:300]
        seen = peer.authn_request_read(started["Location"])
        for name in [name for name in client.cookies if name != COOKIE_NAME]:
            del client.cookies[name]  # the cross-site POST carries only the binding cookie
        user = index % USERS
        xml = peer.response_xml(
            name_id=f"ours{user}@example.com",
            in_response_to=seen.id,
            attributes=attributes_for("ours", user, round_no),
        )
        out.append((client, post_form(xml, seen.relay_state)))
    return out


def acs_post(client: Client, form: dict[str, str]) -> None:
    # Form-encoded, as a browser (and the bench's client) posts the IdP's form.
    response = client.post(
        f"/sso/{SLUG}/acs/", urlencode(form), content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 303 and response["Location"] == LANDING, (
        response.status_code,
        response.content[:500],
    )


def show_sql(peer: IdpPeer, round_no: int) -> None:
    logins = prepared(peer, 2, round_no)  # user 0 (roles change), then user 0 again
    logins[1] = prepared(peer, 1, round_no)[0]
    for label, (client, form) in zip(("role-changing", "repeat"), logins, strict=True):
        with CaptureQueriesContext(connection) as captured:
            acs_post(client, form)
        print(f"-- {label} login: {len(captured.captured_queries)} statements")
        for query in captured.captured_queries:
            print("  ", query["sql"][:240])


# TIMING=1: Python CPU of each piece of the login (module, name as the caller sees it).
PIECES = [
    ("sso.views", "idp_or_refuse"),
    ("sso.views", "rate_limit_check"),
    ("sso.views", "xml_parse"),
    ("sso.views", "response_decode"),
    ("sso.views", "login_complete"),
    ("sso.login.flow", "_validated"),
    ("sso.login.flow", "assertion_remember"),
    ("sso.login.flow", "user_provision_from_login"),
    ("sso.login.flow", "user_roles_from_login"),
    ("sso.login.flow", "session_start"),
    ("sso.login.flow", "login_audit_record"),
    ("sso.login.flow", "login_flow_record"),
    ("sso.views", "login_outcome_response"),
    ("sso.provisioning", "login_profile_read"),
    ("sso.provisioning", "account_find_or_create"),
    ("sso.provisioning", "account_refresh"),
    ("sso.provisioning", "identity_after_login"),
    ("sso.provisioning", "_unmapped_report"),
    ("users.services.roles", "_named_and_held"),
    ("users.services.roles", "_memberships_write"),
    ("users.services.roles", "_user_roles_changed"),
    ("sso.login.records", "django_login"),
    ("sso.login.records", "saml_session_record"),
    ("sso.inbound", "response_precheck"),
    ("sso.inbound", "_python3_saml_response"),
    ("sso.inbound", "_validate_with_python3_saml"),
    ("sso.login.flow", "saml_settings"),
    ("sso.login.flow", "response_expectations"),
]
piece_ns: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
pieces_on = [False]  # counted in the timed part only


def pieces_time() -> None:
    import importlib

    for module_name, name in PIECES:
        module = importlib.import_module(module_name)
        original = getattr(module, name, None)
        if original is None:  # not in the checkout measured
            continue

        def timed_piece(*args: Any, _f: Any = original, _k: str = name, **kwargs: Any) -> Any:
            if not pieces_on[0]:
                return _f(*args, **kwargs)
            started = time.process_time_ns()
            try:
                return _f(*args, **kwargs)
            finally:
                entry = piece_ns[_k]
                entry[0] += time.process_time_ns() - started
                entry[1] += 1

        setattr(module, name, timed_piece)


class PerStatement:
    """Backend CPU per statement (schedstat), keyed by the statement's start."""

    def __init__(self) -> None:
        self.totals: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        before = backend_sched_ns()
        try:
            return execute(sql, params, many, context)
        finally:
            entry = self.totals[" ".join(sql.split())[:90]]
            entry[0] += backend_sched_ns() - before
            entry[1] += 1

    def report(self, logins: int) -> None:
        for sql, (ns, count) in sorted(self.totals.items(), key=lambda kv: -kv[1][0]):
            print(f"{ns / 1000 / logins:8.1f} us/login  {count / logins:.2f}x  {sql}")


def timed(logins: list[tuple[Client, dict[str, str]]], per_statement: PerStatement | None):
    profile = cProfile.Profile(time.process_time) if os.environ.get("PROFILE") else None
    counted = [0]

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        counted[0] += 1
        return execute(sql, params, many, context)

    wrappers = [count] if per_statement is None else [count, per_statement]
    connection.execute_wrappers.extend(wrappers)
    db0, py0 = backend_cpu(), time.process_time()
    pieces_on[0] = True
    if profile is not None:
        profile.enable()
    for client, form in logins:
        acs_post(client, form)
    if profile is not None:
        profile.disable()
    db1, py1 = backend_cpu(), time.process_time()
    pieces_on[0] = False
    for wrapper in wrappers:
        connection.execute_wrappers.remove(wrapper)
    return py1 - py0, db1 - db0, counted[0], profile


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 150
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    assert 0 < count <= 2000 and 0 < rounds <= 20, "bounded runs only"
    peer = setup(Path(tempfile.mkdtemp(prefix="saml-probe-")))
    for client, form in prepared(peer, USERS, 1):  # warm-up: JIT creation, caches
        acs_post(client, form)
    if os.environ.get("SHOWSQL"):
        show_sql(peer, 2)
    if os.environ.get("TIMING"):
        pieces_time()
    per_statement = PerStatement() if os.environ.get("PERSTMT") else None
    python = database = statements = 0.0
    profiles = []
    for round_no in range(2, 2 + rounds):
        logins = prepared(peer, count, round_no)
        py, db, n, profile = timed(logins, per_statement)
        python, database, statements = python + py, database + db, statements + n
        profiles.append(profile)
        print(
            f"round {round_no}: python {1000 * py / count:.2f} ms, postgres "
            f"{1000 * db / count:.2f} ms, {n / count:.2f} statements per login"
        )
    total = count * rounds
    if per_statement is not None:
        per_statement.report(total)
    for name, (ns, calls) in piece_ns.items():
        print(f"{ns / 1e6 / total:6.3f} ms/login  {calls / total:.2f}x  {name}")
    if profiles[0] is not None:
        stats = pstats.Stats(*profiles)
        stats.sort_stats("cumulative").print_stats(60)
        stats.sort_stats("tottime").print_stats(40)
    print(
        f"per login: python {1000 * python / total:.2f} ms, postgres "
        f"{1000 * database / total:.2f} ms, {statements / total:.2f} statements"
    )


if __name__ == "__main__":
    main()
