"""Queue a Celery task by its name.

Services schedule background work; tasks call services. Naming the task instead of
importing it keeps that dependency one way (services never import a tasks module,
which imports them): import-linter holds the line. Each app registers its tasks by
importing them in AppConfig.ready().
"""

from __future__ import annotations

from typing import Any

from celery import current_app


def task_enqueue(name: str, *args: Any, countdown: float | None = None) -> None:
    """Queue task `name` with args, as its .apply_async() would (eager where Celery runs
    tasks in-process); a broker error is raised to the caller, who decides."""
    current_app.tasks[name].apply_async(args=args, countdown=countdown)
