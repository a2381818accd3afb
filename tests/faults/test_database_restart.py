"""The database goes away under a running web process and worker: dropped connections
(pg_terminate_backend) and a full stop and start of a PostgreSQL server. Both recover
on their own, /readyz tells the outage, and every SCIM create answered 201 is stored."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg2
import pytest
import requests
from django.db import connection

from media.models import ProfileImage
from tests.faults.conftest import OwnPostgres, wait_for, worker_environment
from tests.media.conftest import Route, image_bytes
from users.models import User

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

PNG = image_bytes("PNG", size=(24, 24))


def _create(base: str, token: str, username: str, photo: str | None = None) -> requests.Response:
    body: dict[str, object] = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": username,
    }
    if photo:
        body["photos"] = [{"value": photo, "primary": True}]
    return requests.post(
        f"{base}/scim/v2/Users",
        json=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"},
        timeout=10,
    )


def _terminate_other_connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def _image_stored(username: str) -> bool:
    return ProfileImage.objects.filter(user__username=username).exclude(storage_name="").exists()


def test_web_and_worker_carry_on_after_their_connections_are_terminated(
    broker, start_web, start_worker, provisioning_token, image_server, tmp_path
):
    image_server.routes["/a.png"] = Route(body=PNG)
    image_server.routes["/b.png"] = Route(body=PNG)
    env = worker_environment(broker.url, tmp_path / "media")
    web = start_web(env)
    start_worker(env, concurrency=1)
    first = _create(web.base, provisioning_token, "a@example.com", image_server.url("/a.png"))
    assert first.status_code == 201, first.text
    wait_for("the worker to store the first photo", lambda: _image_stored("a@example.com"))

    # The web process holds a persistent connection (CONN_MAX_AGE); the worker's, if it
    # has one open, goes too (Celery closes it after each task).
    assert _terminate_other_connections() >= 1

    second = _create(web.base, provisioning_token, "b@example.com", image_server.url("/b.png"))
    assert second.status_code == 201, second.text
    wait_for("the worker to store the second photo", lambda: _image_stored("b@example.com"))
    assert requests.get(f"{web.base}/readyz", timeout=5).status_code == 200
    assert set(User.objects.values_list("username", flat=True)) == {
        "a@example.com",
        "b@example.com",
    }


class CreateLoop:
    """SCIM creates one after another until stopped; remembers which were answered 201."""

    def __init__(self, base: str, token: str) -> None:
        self.base, self.token = base, token
        self.answers: dict[str, int] = {}
        self.retry_after: set[str | None] = set()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        number = 0
        while not self.stop.is_set():
            username = f"loop-{number}@example.com"
            try:
                response = _create(self.base, self.token, username)
                self.answers[username] = response.status_code
                if response.status_code == 503:
                    self.retry_after.add(response.headers.get("Retry-After"))
            except requests.RequestException:
                self.answers[username] = 0
            number += 1
            time.sleep(0.05)

    def created(self) -> set[str]:
        return {name for name, status in self.answers.items() if status == 201}


def _refused(loop: CreateLoop) -> set[str]:
    return {name for name, status in list(loop.answers.items()) if status != 201}


def _stored_usernames(server: OwnPostgres, database: str) -> set[str]:
    with psycopg2.connect(server.url(database)) as db, db.cursor() as cursor:
        cursor.execute("SELECT username FROM users_user")
        return {row[0] for row in cursor.fetchall()}


def _readiness(base: str) -> tuple[int, dict[str, object]]:
    response = requests.get(f"{base}/readyz", timeout=10)
    return response.status_code, response.json()


def test_a_database_restart_is_reported_by_readyz_and_every_201_is_kept(
    broker, own_postgres, start_web, provisioning_token, tmp_path: Path
):
    own_postgres.copy_database(connection.settings_dict, "axero_restart")
    env = worker_environment(broker.url, tmp_path / "media")
    env["DATABASE_URL"] = own_postgres.url("axero_restart")
    web = start_web(env)
    assert _readiness(web.base)[0] == 200
    loop = CreateLoop(web.base, provisioning_token)
    loop.thread.start()
    wait_for("creates before the restart", lambda: len(loop.created()) >= 3)

    own_postgres.stop()
    stopped_at = time.monotonic()
    status, body = _readiness(web.base)
    assert status == 503
    assert str(body["checks"]["database"]).startswith("fail: ")  # type: ignore[index]
    wait_for(
        "creates refused during a 3-second outage",
        lambda: len(_refused(loop)) >= 3 and time.monotonic() - stopped_at >= 3,
    )
    outage = time.monotonic() - stopped_at

    own_postgres.start()
    started_at = time.monotonic()
    wait_for("/readyz to say ready", lambda: _readiness(web.base)[0] == 200)
    ready_after = time.monotonic() - started_at
    created_before_restart = len(loop.created())
    wait_for("a create after the restart", lambda: len(loop.created()) > created_before_restart)
    created_after = time.monotonic() - started_at
    created_before_restart = len(loop.created())
    wait_for("creates after the restart", lambda: len(loop.created()) >= created_before_restart + 3)
    loop.stop.set()
    loop.thread.join(timeout=15)
    print(
        f"database restart: outage {outage:.1f} s; ready {ready_after:.2f} s and a 201 "
        f"{created_after:.2f} s after the start; {len(loop.answers)} creates, "
        f"{len(loop.created())} answered 201, statuses {sorted(set(loop.answers.values()))}"
    )

    refused = _refused(loop)
    # Refused while the database was down: 503 with Retry-After (IdPs retry it), never a
    # 500 that some IdPs record as a failed push.
    assert {loop.answers[name] for name in refused} == {503}
    assert loop.retry_after == {"30"}
    stored = _stored_usernames(own_postgres, "axero_restart")
    assert loop.created() <= stored  # every 201 is in the database
    assert not (refused & stored)  # and nothing answered with an error was half-written
