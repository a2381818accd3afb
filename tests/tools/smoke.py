"""Production smoke stage: the product installed from its runtime lock alone, run as
real processes, driven end to end from outside.

    .venv/bin/python tests/tools/smoke.py            (CI runs this after the unit tests)

What it proves, in order:
1. `deploy/install.sh` (the Dockerfile's install step) builds a venv from
   requirements.txt alone;
2. `manage.py check --deploy` with an https SITE_URL reports nothing but HSTS preload;
3. migrate on a fresh PostgreSQL database, collectstatic as the image does;
4. gunicorn (gunicorn.conf.py), a Celery worker and beat start on Redis;
5. a SCIM create with a photo URL served on loopback: the worker stores the image;
6. a SCIM group change reaches a space through the worker's persona drain;
7. a signed webhook for the SCIM create reaches a receiver on loopback, delivered by
   the worker (Standard Webhooks signature checked);
8. the SCIM-provisioned person signs in through a pysaml2 IdP (the token is bound to
   that IdP's connection) and lands on /api/v1/me/ as themself;
9. no traceback in any process's log; every process stops on SIGTERM.

The migrate, web, worker and beat commands and the app's environment variable names are
read from docker-compose.yml, so the compose file and this stage cannot drift apart.
The driver runs in the dev venv (it needs the pysaml2 IdP of tests/sso/idp_peer/); the
product runs only in the venv built from the runtime lock. Nothing is mocked.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import psycopg2
import redis
import requests
import yaml
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
# pysaml2 names a cipher mode that cryptography has moved; nothing here uses it.
warnings.filterwarnings("ignore", message="CFB has been moved")

from tests.sso.idp_peer import IdpPeer  # noqa: E402 (after the path is set)

WORK = ROOT / "var" / "smoke"
VENV = WORK / "venv"
DB_ADMIN_URL = os.environ.get("SMOKE_DB_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
DB_NAME = os.environ.get("SMOKE_DB_NAME", "axero_smoke")
REDIS_URL = os.environ.get("SMOKE_REDIS_URL", "redis://127.0.0.1:6379/8")
COMPOSE = ROOT / "docker-compose.yml"
WAIT_SECONDS = 90.0
SCIM_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
SCIM_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
SCIM_PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

T = TypeVar("T")


class SmokeFailed(Exception):
    pass


def step(title: str) -> None:
    print(f"-- {title}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = WAIT_SECONDS) -> T:
    """Poll probe until it returns something truthy; fail with `what` after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = probe()
        if result:
            return result
        time.sleep(0.5)
    raise SmokeFailed(f"timed out after {timeout:.0f} s waiting for {what}")


@dataclass
class Stack:
    """The product's processes and their environment."""

    port: int
    env: dict[str, str]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def manage(self, *args: str, env: dict[str, str] | None = None) -> str:
        return self.run(["python", "manage.py", *args], env=env)

    def run(self, command: list[str], env: dict[str, str] | None = None) -> str:
        result = subprocess.run(
            [str(VENV / "bin" / command[0]), *command[1:]],
            cwd=ROOT,
            env=env or self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if result.returncode != 0:
            raise SmokeFailed(
                f"{' '.join(command)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
            )
        return result.stdout + result.stderr

    def start(self, name: str, command: list[str]) -> None:
        log = (WORK / f"{name}.log").open("wb")
        self.processes[name] = subprocess.Popen(
            [str(VENV / "bin" / command[0]), *command[1:]],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def check_running(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise SmokeFailed(f"{name} exited early with {process.returncode}")

    def stop(self) -> dict[str, int | None]:
        """SIGTERM each process (its whole group), then wait; SIGKILL what hangs."""
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        codes: dict[str, int | None] = {}
        for name, process in self.processes.items():
            try:
                codes[name] = process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                codes[name] = None
        return codes


@dataclass(frozen=True)
class ComposeApp:
    """What docker-compose.yml runs: each app service's command and the app's variables."""

    commands: dict[str, list[str]]
    variables: set[str]

    @classmethod
    def read(cls) -> ComposeApp:
        services = yaml.safe_load(COMPOSE.read_text())["services"]
        commands = {
            name: services[name]["command"].replace("/app/var/", f"{WORK}/").split()
            for name in ("migrate", "web", "worker", "beat")
        }
        return cls(commands=commands, variables=set(services["web"]["environment"]))


def prepare_database() -> str:
    admin = psycopg2.connect(DB_ADMIN_URL)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{DB_NAME}"')
    admin.close()
    return DB_ADMIN_URL.rsplit("/", 1)[0] + "/" + DB_NAME


def drop_database() -> None:
    admin = psycopg2.connect(DB_ADMIN_URL)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    admin.close()


def install() -> None:
    step("install the runtime lock alone (deploy/install.sh, as the Dockerfile does)")
    shutil.rmtree(VENV, ignore_errors=True)
    subprocess.run(["sh", str(ROOT / "deploy" / "install.sh"), str(VENV)], check=True)


def check_deploy(env: dict[str, str]) -> None:
    step("manage.py check --deploy with an https SITE_URL")
    https_env = {**env, "SITE_URL": "https://intranet.example.com", "DEBUG": "false"}
    result = subprocess.run(
        [str(VENV / "bin" / "python"), "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env=https_env,
        capture_output=True,
        text=True,
        check=False,
    )
    found = set(re.findall(r"\(([a-z_]+\.[A-Z]\d+)\)", result.stdout + result.stderr))
    if result.returncode != 0 or found != {"security.W021"}:
        raise SmokeFailed(
            f"check --deploy found {sorted(found)} (only security.W021, HSTS preload, "
            f"is expected):\n{result.stdout}\n{result.stderr}"
        )


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 40, 90)).save(buffer, "PNG")
    return buffer.getvalue()


def photo_server() -> tuple[ThreadingHTTPServer, str]:
    body = png_bytes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # http.server's name
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}/ada.png"


@dataclass
class Receiver:
    """A webhook receiver on loopback: keeps every POST (headers and body)."""

    server: ThreadingHTTPServer
    received: list[tuple[dict[str, str], bytes]]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hook"


def webhook_receiver() -> Receiver:
    received: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return Receiver(server, received)


def webhook_signed(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The README's verification: HMAC-SHA256 over "id.timestamp.body"."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(
        hmac.compare_digest(expected, part.split(",", 1)[1])
        for part in headers.get("webhook-signature", "").split()
        if part.startswith("v1,")
    )


def webhook_delivered(stack: Stack, receiver: Receiver, secret: str, user_id: str) -> None:
    step("the worker delivers the signed user.created webhook to a receiver on loopback")

    def delivered() -> bool:
        stack.check_running()
        for headers, body in list(receiver.received):
            payloads = json.loads(body)
            for event in payloads if isinstance(payloads, list) else [payloads]:
                if event.get("type") == "user.created" and user_id in json.dumps(event):
                    if not webhook_signed(secret, headers, body):
                        raise SmokeFailed(f"webhook signature does not verify: {headers}")
                    return True
        return False

    wait_for("the user.created webhook", delivered)


def scim(stack: Stack, token: str, method: str, path: str, body: Any = None) -> Any:
    response = requests.request(
        method,
        f"{stack.base}/scim/v2{path}",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"},
        data=json.dumps(body) if body is not None else None,
        timeout=30,
    )
    if response.status_code >= 300:
        raise SmokeFailed(f"SCIM {method} {path}: {response.status_code} {response.text}")
    return response.json() if response.content else None


def scim_photo_stored_by_worker(stack: Stack, token: str) -> str:
    step("SCIM create with a photo URL on loopback: the worker stores the image")
    server, photo_url = photo_server()
    try:
        user = scim(
            stack,
            token,
            "POST",
            "/Users",
            {
                "schemas": [SCIM_USER],
                "userName": "ada@example.com",
                "name": {"givenName": "Ada", "familyName": "Lovelace"},
                "emails": [{"value": "ada@example.com", "primary": True}],
                "photos": [{"value": photo_url, "type": "photo"}],
                "active": True,
            },
        )

        def image_stored() -> bool:
            stack.check_running()
            response = requests.get(
                f"{stack.base}/api/v1/users/{user['id']}/image/",
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )
            return response.status_code == 200 and response.content[:4] == b"\x89PNG"

        wait_for("the worker to store the SCIM photo", image_stored)
    finally:
        server.shutdown()
    return str(user["id"])


def scim_group_reaches_space(stack: Stack, token: str, user_id: str) -> None:
    step("SCIM group change reaches a space through the worker's persona drain")
    personas = WORK / "personas.json"
    personas.write_text(
        json.dumps(
            {
                "spaces": [{"slug": "engineering", "name": "Engineering"}],
                "personas": [
                    {
                        "slug": "engineers",
                        "name": "Engineers",
                        "rule": {"attr": "roles", "op": "contains", "value": "Engineering"},
                        "spaces": [{"space": "engineering", "role": "member"}],
                    }
                ],
            }
        )
    )
    stack.manage("personas", "import", str(personas))
    group = scim(
        stack, token, "POST", "/Groups", {"schemas": [SCIM_GROUP], "displayName": "Engineering"}
    )
    scim(
        stack,
        token,
        "PATCH",
        f"/Groups/{group['id']}",
        {
            "schemas": [SCIM_PATCH],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": user_id}]}],
        },
    )

    def member_of_space() -> bool:
        stack.check_running()
        response = requests.get(
            f"{stack.base}/api/v1/spaces/engineering/members/",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        response.raise_for_status()
        return any(member["id"] == user_id for member in response.json()["members"])

    wait_for("the persona drain to add the member to the space", member_of_space)


def idp_import(stack: Stack) -> IdpPeer:
    peer = IdpPeer(WORK / "idp")
    stack.manage(
        "saml_idp", "import", "--slug", "smoke", "--metadata-file", str(peer.write_metadata())
    )
    return peer


def saml_login_lands_on_me(stack: Stack, peer: IdpPeer, user_id: str) -> None:
    step("the SCIM-provisioned person signs in through a pysaml2 IdP: /api/v1/me/")
    metadata = requests.get(f"{stack.base}/sso/smoke/metadata/", timeout=10)
    metadata.raise_for_status()
    peer.trust_sp(metadata.text)
    browser = requests.Session()
    start = browser.get(
        f"{stack.base}/sso/smoke/login/", params={"next": "/api/v1/me/"}, allow_redirects=False
    )
    if start.status_code != 302:
        raise SmokeFailed(f"login start answered {start.status_code}: {start.text[:500]}")
    seen = peer.authn_request_read(start.headers["Location"])
    xml = peer.response_xml(
        name_id="ada@example.com",
        in_response_to=seen.id,
        attributes={
            "User.email": "ada@example.com",
            "User.FirstName": "Ada",
            "User.LastName": "Lovelace",
        },
    )
    landed = browser.post(
        seen.acs_url,
        data={
            "SAMLResponse": base64.b64encode(xml.encode()).decode(),
            "RelayState": seen.relay_state or "",
        },
        timeout=30,
    )
    if landed.status_code != 200 or not landed.url.endswith("/api/v1/me/"):
        raise SmokeFailed(
            f"SAML login ended at {landed.url} ({landed.status_code}): {landed.text[:500]}"
        )
    if landed.json().get("id") != user_id:
        raise SmokeFailed(f"/api/v1/me/ shows someone else: {landed.text[:500]}")


def logs_clean() -> None:
    step("no traceback in any process's log")
    for log in sorted(WORK.glob("*.log")):
        text = log.read_text(errors="replace")
        if "Traceback" in text:
            raise SmokeFailed(f"{log.name} has a traceback:\n{text[-4000:]}")


def show_logs() -> None:
    for log in sorted(WORK.glob("*.log")):
        print(f"\n----- {log.name} (last 60 lines)")
        print("\n".join(log.read_text(errors="replace").splitlines()[-60:]))


def run() -> None:
    started = time.monotonic()
    WORK.mkdir(parents=True, exist_ok=True)
    for old in WORK.glob("*.log"):
        old.unlink()
    install()
    port = free_port()
    compose = ComposeApp.read()
    shutil.rmtree(WORK / "beat", ignore_errors=True)  # a fresh schedule, as on a new host
    (WORK / "beat").mkdir()
    env = {
        "PATH": f"{VENV / 'bin'}:/usr/bin:/bin",
        "HOME": str(WORK),
        "LANG": "C.UTF-8",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "false",
        "SITE_URL": f"http://127.0.0.1:{port}",
        "DATABASE_URL": prepare_database(),
        "REDIS_URL": REDIS_URL,
        "MEDIA_ROOT": str(WORK / "media"),
        "IMAGE_FETCH_ALLOW_PRIVATE_NETWORKS": "true",
        "WEBHOOKS_ALLOW_PRIVATE_NETWORKS": "true",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "ALLOWED_HOSTS": "localhost,127.0.0.1",
        "FORWARDED_ALLOW_IPS": "127.0.0.1",
        "WEB_CONCURRENCY": "2",
    }
    if not compose.variables <= set(env):
        raise SmokeFailed(
            f"docker-compose.yml sets {sorted(compose.variables - set(env))}, not set here"
        )
    redis.Redis.from_url(REDIS_URL).flushdb()
    stack = Stack(port=port, env=env)
    check_deploy(env)
    step("migrate a fresh database (compose's migrate service); collectstatic as the image does")
    stack.run(compose.commands["migrate"])
    stack.manage("collectstatic", "--no-input", env={**env, "SECRET_KEY": "collectstatic"})
    step("start gunicorn, a Celery worker and beat")
    for name in ("web", "worker", "beat"):
        stack.start(name, compose.commands[name])
    try:
        wait_for("/readyz", lambda: _ready(stack))
        peer = idp_import(stack)
        token = stack.manage("scim_token", "create", "--name", "smoke", "--idp", "smoke")
        token = token.strip().splitlines()[-1]
        receiver = webhook_receiver()
        hook = stack.manage("webhook", "add", "--url", receiver.url, "--events", "user.created")
        secret = hook.strip().splitlines()[-1]
        user_id = scim_photo_stored_by_worker(stack, token)
        webhook_delivered(stack, receiver, secret, user_id)
        scim_group_reaches_space(stack, token, user_id)
        saml_login_lands_on_me(stack, peer, user_id)
        stack.check_running()
    finally:
        step("stop every process")
        codes = stack.stop()
    bad = {name: code for name, code in codes.items() if code not in (0, -signal.SIGTERM)}
    if bad:
        raise SmokeFailed(f"processes did not stop cleanly: {bad}")
    logs_clean()
    drop_database()
    print(f"smoke: passed in {time.monotonic() - started:.0f} s", flush=True)


def _ready(stack: Stack) -> bool:
    stack.check_running()
    try:
        return requests.get(f"{stack.base}/readyz", timeout=5).status_code == 200
    except requests.ConnectionError:
        return False


def main() -> int:
    try:
        run()
    except (SmokeFailed, subprocess.CalledProcessError, requests.RequestException) as exc:
        print(f"\nsmoke: FAILED: {exc}", flush=True)
        show_logs()
        print(f"\nsmoke: FAILED (see above): {str(exc)[:2000]}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
