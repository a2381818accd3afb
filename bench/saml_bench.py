"""SAML login benchmark: our full login against a bare python3-saml SP, in one run.

    .venv/bin/python bench/saml_bench.py [--logins 150] [--users 50] [--clients 4] [--rounds 6]
        [--stable-roles] [--http-browser] [--no-worker]

Run by hand, never in the suite. Loopback only, bounded loops. It:
1. drops and recreates two databases: ours (BENCH_SAML_DATABASE_URL, default
   `axero_bench_saml`), migrated, with the IdP peer (tests/sso/idp_peer/) imported as
   `bench` and the custom field `persona`; and the bare SP's (BENCH_BARE_DATABASE_URL,
   default `bare_bench_saml`), migrated by its own project;
2. serves `gunicorn axero_idp.wsgi` (ours, from the repo root: gunicorn.conf.py applies)
   and `gunicorn bare_sp.wsgi` (bench/bare_sp/, a separate minimal Django project with
   its own settings and middleware, python3-saml's demo-django way, run from bench/ so
   nothing of the product is importable), both 2 workers x 4 threads (gthread), access log
   on, DEBUG off, plain http on loopback (no TLS in front of either). Both are up at once
   but loaded in turn, never together, alternating which goes first, so the noise of a
   shared machine falls on both alike;
3. per target: a warm-up (every user logs in once: JIT creation, per-worker caches),
   then per round, untimed, opens N logins (GET the login URL, capture the AuthnRequest
   ID bound to that cookie jar) and signs N fresh responses with xmlsec1 (pysaml2
   signing is slow), and finally, timed, 4 client threads POST them to the ACS and
   follow the SP's own redirects up to the landing redirect: logins/s, p50/p99 of the
   ACS latency, and the server CPU per login (utime + stime of the gunicorn master and
   workers, from /proc, before and after the timed part; bench/peers.py). The client
   keeps cookies like a browser on an https site would, so our browser binding cookie
   (SameSite=None; Secure in production) comes with the ACS POST and ours completes the
   login in that one request; a client without it would also take the first-party
   `acs/complete` hop (see sso/login.py).

Ours runs with its Celery worker (`celery -A axero_idp worker -l INFO`, as in
production): a login queues work there (the persona drain for its marks, the event
dispatch), and the worker's CPU is counted in ours' server CPU (also shown apart), its
PostgreSQL backends with ours' database; a round ends for the CPU count when the worker
has done what the round queued (bench/peers.py queued_work_wait; the wait, mostly the
drains' countdowns, is shown, not counted in logins/s). The bare SP queues nothing.
`--no-worker` measures as before: the queued work is left undone and uncounted. The SCIM
create bench counts its worker the same way.

Every response carries 9 attributes with 5 roles (2 of them change between rounds), a
manager, a US-format hire date and a custom field, so provisioning and role sync do real
work. The bare SP only validates and logs in (see bench/bare_sp/views.py).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from bench import peers as serving  # noqa: E402

DB_URL = os.environ.get(
    "BENCH_SAML_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/axero_bench_saml"
)
BARE_DB_URL = os.environ.get(
    "BENCH_BARE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bare_bench_saml"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
SLUG = "bench"
CONN_MAX_AGE = 3600
BIN = ROOT / ".venv" / "bin"
# The product checkout served as "ours" (default: this one). Pointing it at an export of
# an earlier commit measures before and after a change with the same bench.
PRODUCT = Path(os.environ.get("BENCH_PRODUCT_ROOT", str(ROOT))).resolve()


def base_env(port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=DB_URL,
        REDIS_URL=REDIS_URL,
        SECRET_KEY="bench-secret-key-not-for-production",
        DEBUG="false",
        SITE_URL=f"http://127.0.0.1:{port}",
        # Connections outlive the run (both servers alike): the PostgreSQL backends whose
        # CPU is counted then live through every round.
        DB_CONN_MAX_AGE=str(CONN_MAX_AGE),
        # As in production: background work (the persona drain after a role change)
        # is queued on Redis for a worker, not run inside the login.
        CELERY_TASK_ALWAYS_EAGER="false",
    )
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


def _recreate(url: str) -> None:
    import psycopg2

    name = url.rsplit("/", 1)[1]
    connection = psycopg2.connect("dbname=postgres user=postgres host=127.0.0.1")
    connection.autocommit = True
    with connection.cursor() as cursor:
        # A fresh database each run: the numbers do not depend on earlier runs.
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()


def bare_env(port: int, settings_path: Path) -> dict[str, str]:
    """The bare SP's environment: its own settings module and database, no product path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTHONPATH"))}
    env.update(
        DJANGO_SETTINGS_MODULE="bare_sp.settings",
        BARE_DATABASE_URL=BARE_DB_URL,
        BARE_SAML_SETTINGS=str(settings_path),
        SECRET_KEY="bare-bench-secret-key-not-for-production",
        BARE_CONN_MAX_AGE=str(CONN_MAX_AGE),
    )
    return env


def database_prepare(workdir: Path, peer, settings_path: Path) -> None:
    """Recreate and migrate both databases; ours: import the IdP, define `persona`."""
    _recreate(DB_URL)
    _recreate(BARE_DB_URL)
    subprocess.run(
        [str(BIN / "python"), "-m", "django", "migrate", "--no-input", "-v", "0"],
        env=bare_env(0, settings_path),
        check=True,
        cwd=ROOT / "bench",
    )
    import redis

    # The bench's own Redis database: tasks the logins queued in earlier runs go too.
    redis.Redis.from_url(REDIS_URL).flushdb()
    env = base_env(0)
    manage = [str(BIN / "python"), str(PRODUCT / "manage.py")]
    subprocess.run([*manage, "migrate", "--no-input", "-v", "0"], env=env, check=True, cwd=PRODUCT)
    metadata = peer.write_metadata(workdir / "idp-metadata.xml")
    subprocess.run(
        [*manage, "saml_idp", "import", "--slug", SLUG, "--metadata-file", str(metadata)],
        env=env,
        check=True,
        cwd=PRODUCT,
        stdout=subprocess.DEVNULL,
    )
    script = (
        "from users.services import Actor, custom_field_define;"
        "custom_field_define(key='persona', type='string', label='Persona', actor=Actor.system('bench'))"
    )
    subprocess.run([*manage, "shell", "-c", script], env=env, check=True, cwd=PRODUCT)


@dataclass
class Target:
    name: str
    login_path: str
    acs_path: str
    # At most this many SP redirects before the landing one (ours: the SameSite hop,
    # taken only when the browser binding cookie does not come with the POST).
    follow_hops: int
    landing: str
    user_prefix: str
    # The cookies a browser sends with the IdP's cross-site POST to the ACS; None: all
    # of them (the bare ACS, which relies on its session cookie arriving).
    post_cookies: frozenset[str] | None = None


@dataclass
class Result:
    name: str
    logins: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    failures: int = 0
    errors: list[str] = field(default_factory=list)
    # Server CPU (gunicorn master + workers) spent during the timed part.
    cpu_seconds: float = 0.0
    # CPU of the PostgreSQL backends serving it, same span.
    db_cpu_seconds: float = 0.0
    # Ours' Celery worker, included in cpu_seconds, until it has done what the round queued.
    worker_cpu_seconds: float = 0.0
    drained_after: float = 0.0

    @property
    def per_second(self) -> float:
        return self.logins / self.seconds

    @property
    def cpu_ms_per_login(self) -> float:
        return self.cpu_seconds * 1000 / self.logins

    @property
    def db_cpu_ms_per_login(self) -> float:
        return self.db_cpu_seconds * 1000 / self.logins

    @property
    def worker_cpu_ms_per_login(self) -> float:
        return self.worker_cpu_seconds * 1000 / self.logins

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def attributes_for(prefix: str, user: int, round_no: int) -> dict[str, object]:
    email = f"{prefix}{user}@example.com"
    return {
        "User.email": email,
        "User.FirstName": f"First{user}",
        "User.LastName": f"Last{user}",
        "title": "Engineer",
        "department": f"Dept{user % 5}",
        "hireDate": "3/15/2024",
        "persona": "builder",
        "manager": f"{prefix}0@example.com" if user else "",
        "memberOf": [
            "Everyone",
            "Staff",
            f"Team{user % 7}",
            f"Round{round_no % 2}",
            f"Odd{(user + round_no) % 3}",
        ],
    }


def open_login(base: str, target: Target, peer) -> tuple[requests.Session, str, str | None]:
    """A browser starts a login: its cookie jar, the AuthnRequest ID and the RelayState
    the IdP echoes back (ours carries the landing path in it)."""
    session = requests.Session()
    response = session.get(base + target.login_path, allow_redirects=False, timeout=10)
    assert response.status_code == 302, (response.status_code, response.text[:300])
    seen = peer.authn_request_read(response.headers["Location"])
    return session, seen.id, seen.relay_state


def _post_as_browser(
    session: requests.Session, url: str, data: dict[str, str], keep: frozenset[str] | None
) -> requests.Response:
    """POST with only the cookies a browser would send cross-site (keep), then put the
    others back unless the response replaced them."""
    if keep is None:
        return session.post(url, data=data, allow_redirects=False, timeout=30)
    withheld = [cookie for cookie in session.cookies if cookie.name not in keep]
    for cookie in withheld:
        session.cookies.clear(cookie.domain, cookie.path, cookie.name)
    try:
        return session.post(url, data=data, allow_redirects=False, timeout=30)
    finally:
        present = {(c.domain, c.path, c.name) for c in session.cookies}
        for cookie in withheld:
            if (cookie.domain, cookie.path, cookie.name) not in present:
                session.cookies.set_cookie(cookie)


def complete_login(
    base: str, target: Target, session: requests.Session, xml: str, relay_state: str | None
) -> str:
    """Post the response and follow the SP's own hops; "" when the login landed, else
    what went wrong."""
    from tests.sso.idp_peer import post_form

    response = _post_as_browser(
        session, base + target.acs_path, post_form(xml, relay_state), target.post_cookies
    )
    for _ in range(target.follow_hops):
        # Ours completes in the POST when the browser binding cookie arrives (this client
        # sends it, as a browser does on an https site); otherwise it hops first.
        if response.status_code not in (302, 303) or _lands(response, target):
            break
        response = session.get(
            urljoin(base + target.acs_path, response.headers["Location"]),
            allow_redirects=False,
            timeout=30,
        )
    if _lands(response, target):
        return ""
    return f"{response.status_code} {response.text[:300]!r}"


def _lands(response: requests.Response, target: Target) -> bool:
    return response.status_code in (302, 303) and response.headers["Location"].endswith(
        target.landing
    )


def prepare(base: str, target: Target, peer, count: int, users: int, round_no: int):
    """Untimed: open `count` logins and sign a fresh response for each."""
    opened = [open_login(base, target, peer) for _ in range(count)]

    def sign(item: tuple[int, tuple[requests.Session, str, str | None]]):
        index, (session, request_id, relay_state) = item
        user = index % users
        xml = peer.response_xml(
            name_id=f"{target.user_prefix}{user}@example.com",
            in_response_to=request_id,
            attributes=attributes_for(target.user_prefix, user, round_no),
        )
        return session, xml, relay_state

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(sign, enumerate(opened)))


def run(base: str, target: Target, prepared, clients: int) -> Result:
    work: queue.Queue = queue.Queue()
    for item in prepared:
        work.put(item)
    result = Result(target.name, len(prepared), 0.0)
    lock = threading.Lock()

    def client() -> None:
        while True:
            try:
                session, xml, relay_state = work.get_nowait()
            except queue.Empty:
                return
            started = time.perf_counter()
            error = complete_login(base, target, session, xml, relay_state)
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                result.latencies_ms.append(elapsed)
                if error:
                    result.failures += 1
                    result.errors.append(error)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - started
    return result


def warm_up(base: str, target: Target, peer, args) -> None:
    """Untimed: every user logs in once (JIT creation); each worker builds its caches."""
    result = run(base, target, prepare(base, target, peer, args.users, args.users, 1), args.clients)
    if result.failures:
        raise RuntimeError(
            f"{target.name}: {result.failures} warm-up logins failed: {result.errors[:3]}"
        )


def bare_settings(workdir: Path, port: int, peer, sp_key) -> Path:
    from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser

    base = f"http://127.0.0.1:{port}/bare"
    settings = {
        "strict": True,
        "debug": False,
        "sp": {
            "entityId": base + "/metadata/",
            "assertionConsumerService": {
                "url": base + "/acs/",
                "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
            },
            "singleLogoutService": {
                "url": base + "/sls/",
                "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect",
            },
            "NameIDFormat": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
            "x509cert": sp_key.cert_pem.decode(),
            "privateKey": sp_key.key_pem.decode(),
        },
        "idp": OneLogin_Saml2_IdPMetadataParser.parse(peer.metadata_xml())["idp"],
        "security": {
            "authnRequestsSigned": True,
            "wantAssertionsSigned": True,
            "rejectDeprecatedAlgorithm": True,
            "signatureAlgorithm": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            "digestAlgorithm": "http://www.w3.org/2001/04/xmlenc#sha256",
        },
    }
    path = workdir / "bare-settings.json"
    path.write_text(json.dumps(settings))
    return path


def bare_sp_metadata(settings_path: Path) -> str:
    from onelogin.saml2.settings import OneLogin_Saml2_Settings

    return OneLogin_Saml2_Settings(json.loads(settings_path.read_text())).get_sp_metadata().decode()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--logins", type=int, default=150, help="timed logins per target per round")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument(
        "--rounds", type=int, default=6, help="rounds; each loads ours and bare in turn"
    )
    parser.add_argument("--port", type=int, default=8931)
    parser.add_argument(
        "--http-browser",
        action="store_true",
        help="ours: the ACS POST carries no cookie, as from a browser on an http site "
        "(the first-party hop completes the login); default: as on an https site",
    )
    parser.add_argument(
        "--stable-roles",
        action="store_true",
        help="send the same roles every round (by default 2 roles change per user per round)",
    )
    parser.add_argument(
        "--no-worker",
        action="store_true",
        help="no Celery worker for ours: what a login queues is neither run nor counted",
    )
    args = parser.parse_args()
    if not (
        0 < args.logins <= 5000
        and 0 < args.users <= 1000
        and 0 < args.clients <= 16
        and 0 < args.rounds <= 10
    ):
        parser.error(
            "bounded runs only: logins <= 5000, users <= 1000, clients <= 16, rounds <= 10"
        )
    return args


def timed_round(
    base: str,
    target: Target,
    peer,
    args,
    round_no: int,
    master_pid: int,
    database: str,
    worker_pid: int = 0,
) -> Result:
    # --stable-roles: every login sends the warm-up's roles (no role changes).
    roles_round = 1 if args.stable_roles else round_no
    prepared = prepare(base, target, peer, args.logins, args.users, roles_round)
    cpu_before = serving.server_cpu_seconds(master_pid)
    worker_before = serving.server_cpu_seconds(worker_pid) if worker_pid else 0.0
    db_before = serving.database_cpu_seconds(database)
    result = run(base, target, prepared, args.clients)
    if worker_pid:
        result.drained_after = serving.queued_work_wait(REDIS_URL, [])
        result.worker_cpu_seconds = serving.server_cpu_seconds(worker_pid) - worker_before
    result.cpu_seconds = (
        serving.server_cpu_seconds(master_pid) - cpu_before + result.worker_cpu_seconds
    )
    result.db_cpu_seconds = serving.database_cpu_seconds(database) - db_before
    return result


def ours_worker(args, port: int, logs: Path):
    return serving.ours_celery_worker(
        BIN,
        product=PRODUCT,
        env=base_env(port),
        log=logs / f"saml-bench-ours-worker-{port}.log",
        enabled=not args.no_worker,
    )


def report(results: dict[str, list[Result]], args, load_start: str, ours: str, bare: str) -> None:
    print(f"\nmachine: {serving.machine()}")
    print(
        f"load average 1/5/15 min: {load_start} at the start, {serving.load_average()} at the end"
    )
    print(
        f"run: {args.rounds} rounds x {args.logins} timed logins per target, {args.users} users, "
        f"{args.clients} clients, both gunicorn 2 workers x 4 threads (gthread), PostgreSQL, "
        f"plain http on loopback for both, "
        f"{'stable roles' if args.stable_roles else '2 roles change per user per round'}, "
        f"ours' ACS POST as from a browser on an {'http' if args.http_browser else 'https'} site, "
        f"{'no worker' if args.no_worker else 'ours with its Celery worker (counted)'}\n"
    )
    print(
        "| target | round | logins/s | server CPU ms/login | of which worker "
        "| PostgreSQL CPU ms/login | p50 ACS ms | p99 ACS ms | failures | drained after s |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, rows in results.items():
        for index, row in enumerate(rows, 1):
            print(
                f"| {name} | {index} | {row.per_second:.1f} | {row.cpu_ms_per_login:.2f} | "
                f"{row.worker_cpu_ms_per_login:.2f} | "
                f"{row.db_cpu_ms_per_login:.2f} | {row.percentile(50):.1f} | "
                f"{row.percentile(99):.1f} | {row.failures} | {row.drained_after:.1f} |"
            )
    for name, rows in results.items():
        for row in rows:
            for error in row.errors[:3]:
                print(f"failure ({name}): {error}")
    print(
        "\n| target | median logins/s | median server CPU ms/login "
        "| median PostgreSQL CPU ms/login | p50 ACS ms | p99 ACS ms |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    medians = {}
    for name, rows in results.items():
        latencies = Result(name, 0, 0.0, [ms for r in rows for ms in r.latencies_ms])
        medians[name] = (
            statistics.median(r.per_second for r in rows),
            statistics.median(r.cpu_ms_per_login for r in rows),
            statistics.median(r.db_cpu_ms_per_login for r in rows),
        )
        print(
            f"| {name} | {medians[name][0]:.1f} | {medians[name][1]:.2f} | "
            f"{medians[name][2]:.2f} | "
            f"{latencies.percentile(50):.1f} | {latencies.percentile(99):.1f} |"
        )
    print(
        f"\nratio ours/bare: logins/s {medians[ours][0] / medians[bare][0]:.2f}x, "
        f"server CPU per login bare/ours {medians[bare][1] / medians[ours][1]:.2f}x "
        f"(with PostgreSQL's: {(medians[bare][1] + medians[bare][2]) / (medians[ours][1] + medians[ours][2]):.2f}x; "
        "medians over rounds; > 1 means ours is ahead; ours' server CPU includes its worker's)"
    )


def main() -> None:
    args = parse_args()
    if shutil.which("xmlsec1") is None:
        sys.exit("xmlsec1 is required (apt-get install xmlsec1)")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "axero_idp.settings")
    os.environ.setdefault("SECRET_KEY", "bench")

    from tests.sso.idp_peer import IdpPeer, KeyPair

    workdir = Path(tempfile.mkdtemp(prefix="saml-bench-"))
    idp_key = KeyPair.generate(workdir, "idp")
    # One IdP (same entity ID and key) seen by two SPs: a peer object per SP.
    peers = {name: IdpPeer(workdir / name, key=idp_key) for name in ("ours", "bare")}
    bare_key = KeyPair.generate(workdir, "bare-sp")
    settings_path = bare_settings(workdir, args.port + 1, peers["bare"], bare_key)
    database_prepare(workdir, peers["ours"], settings_path)
    ours = Target(
        "ours (full login)",
        f"/sso/{SLUG}/login/?next=/api/v1/me/",
        f"/sso/{SLUG}/acs/",
        1,
        "/api/v1/me/",
        "ours",
        # A browser sends only SameSite=None cookies with the IdP's cross-site POST:
        # on an https site the browser binding cookie (one-request login); with
        # --http-browser none at all (the park-and-hop path). Never the Lax session.
        frozenset() if args.http_browser else frozenset({"axero_sso_browser"}),
    )
    bare = Target("bare python3-saml SP", "/bare/login/", "/bare/acs/", 0, "/bare/done/", "bare")
    results: dict[str, list[Result]] = {ours.name: [], bare.name: []}
    load_start = serving.load_average()
    logs = Path(tempfile.gettempdir())
    # Both servers up at once, loaded in turn (never together): noise from a shared
    # machine then hits both alike. Idle workers cost nothing.
    with (
        serving.gunicorn(
            [
                str(BIN / "gunicorn"),
                "axero_idp.wsgi",
                *serving.GUNICORN_WORKERS,
                "-b",
                f"127.0.0.1:{args.port}",
                "--access-logfile",
                "-",
            ],
            cwd=PRODUCT,
            env=base_env(args.port),
            port=args.port,
            log=logs / f"saml-bench-ours-{args.port}.log",
        ) as ours_server,
        serving.gunicorn(
            [
                str(BIN / "gunicorn"),
                "bare_sp.wsgi",
                *serving.GUNICORN_WORKERS,
                "-b",
                f"127.0.0.1:{args.port + 1}",
                "--access-logfile",
                "-",
            ],
            cwd=ROOT / "bench",
            env=bare_env(args.port + 1, settings_path),
            port=args.port + 1,
            log=logs / f"saml-bench-bare-{args.port + 1}.log",
        ) as bare_server,
        ours_worker(args, args.port, logs) as worker,
    ):
        ours_base, bare_base = f"http://127.0.0.1:{args.port}", f"http://127.0.0.1:{args.port + 1}"
        peers["ours"].trust_sp(
            requests.get(f"{ours_base}/sso/{SLUG}/metadata/", timeout=10).content
        )
        peers["bare"].trust_sp(bare_sp_metadata(settings_path))
        worker_pid = worker.pid if worker else 0
        plan = [
            (ours, ours_base, peers["ours"], ours_server.pid, DB_URL.rsplit("/", 1)[1], worker_pid),
            (bare, bare_base, peers["bare"], bare_server.pid, BARE_DB_URL.rsplit("/", 1)[1], 0),
        ]
        for target, base, peer, *_ in plan:
            warm_up(base, target, peer, args)
        if worker_pid:
            serving.queued_work_wait(REDIS_URL, [])
        for round_no in range(args.rounds):
            order = plan if round_no % 2 == 0 else plan[::-1]
            for target, base, peer, pid, database, worker_of in order:
                results[target.name].append(
                    timed_round(base, target, peer, args, round_no, pid, database, worker_of)
                )
    report(results, args, load_start, ours.name, bare.name)
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
