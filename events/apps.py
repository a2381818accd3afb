from django.apps import AppConfig


class EventsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "events"
    verbose_name = "Directory events and webhooks"

    def ready(self) -> None:
        # The directory and personas announce; the outbox listens (neither imports us).
        from events import recording, tasks  # noqa: F401 (tasks: queued by name)

        recording.subscribe_all()
