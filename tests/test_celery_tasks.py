"""Every task Celery beat or a service queues can actually be queued: Celery refuses at
send time a task whose soft time limit exceeds its hard one (the global defaults count
for what a task leaves unset). Three tasks did so, and beat failed to schedule the
photo catch-up and the daily metadata refresh every time (found by the smoke stage)."""

from __future__ import annotations

import pytest
from celery import current_app
from django.conf import settings

PROJECT_APPS = ("users.", "sso.", "scim.", "media.", "personas.", "axero_idp.")


def _project_tasks() -> list[str]:
    return sorted(name for name in current_app.tasks if name.startswith(PROJECT_APPS))


def test_the_project_registers_its_tasks():
    assert {"media.tasks.photo_fetch", "personas.tasks.personas_pending_drain"} <= set(
        _project_tasks()
    )


@pytest.mark.parametrize("name", _project_tasks())
def test_each_tasks_soft_time_limit_is_below_its_hard_limit(name):
    task = current_app.tasks[name]
    hard = task.time_limit or settings.CELERY_TASK_TIME_LIMIT
    soft = task.soft_time_limit or settings.CELERY_TASK_SOFT_TIME_LIMIT

    assert soft < hard, f"{name}: soft {soft} s, hard {hard} s"


@pytest.mark.parametrize("entry", sorted(settings.CELERY_BEAT_SCHEDULE))
def test_each_beat_entry_names_a_registered_task(entry):
    assert settings.CELERY_BEAT_SCHEDULE[entry]["task"] in current_app.tasks
