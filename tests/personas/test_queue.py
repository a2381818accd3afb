"""personas.queue: one queued drain per window in the cluster; the marks are what count."""

from __future__ import annotations

import pytest

from axero_idp.task_queue import CoalescedDrain
from personas import queue, tasks


@pytest.fixture
def queued(monkeypatch, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    calls: list[dict] = []
    monkeypatch.setattr(
        tasks.personas_pending_drain, "apply_async", lambda **kwargs: calls.append(kwargs)
    )
    return calls


def test_a_storm_of_commits_queues_one_drain_per_window_with_a_countdown_past_it(
    queued, monkeypatch
):
    clock = iter([100.0, 100.3, 100.79, 100.81, 101.0])
    monkeypatch.setattr("axero_idp.task_queue.time.monotonic", lambda: next(clock))
    # This process's window alone (the cluster's, in Redis, keeps real time: below).
    monkeypatch.setattr(queue.drain, "_first_in_cluster", lambda: True)

    for _ in range(5):
        queue.drain.enqueue()

    # 100.0 queues (runs at >= 101.0, after every skipped commit up to 100.8);
    # 100.81 is past the window and queues the next one.
    assert queued == [{"args": (), "countdown": queue.DRAIN_COUNTDOWN}] * 2
    assert queue.DRAIN_COUNTDOWN > queue.DRAIN_WINDOW


def test_with_tasks_run_in_process_every_commit_drains(queued, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True

    queue.drain.enqueue()
    queue.drain.enqueue()

    assert len(queued) == 2


def test_two_processes_queue_one_drain_per_window_between_them(queued):
    """Another web process is another CoalescedDrain of the same task: the window they
    share lives in Redis, so the worker gets one drain per window, not one per process."""
    import time

    other_process = CoalescedDrain(
        queue.drain.task,
        window=queue.DRAIN_WINDOW,
        countdown=queue.DRAIN_COUNTDOWN,
        what="persona drain",
    )

    queue.drain.enqueue()
    other_process.enqueue()
    assert len(queued) == 1

    time.sleep(queue.DRAIN_WINDOW + 0.05)
    other_process.enqueue()
    assert len(queued) == 2


def test_without_redis_each_process_keeps_its_own_window(queued, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    other_process = CoalescedDrain(
        queue.drain.task, window=queue.DRAIN_WINDOW, countdown=queue.DRAIN_COUNTDOWN, what="x"
    )

    queue.drain.enqueue()
    other_process.enqueue()

    assert len(queued) == 2
