from django.apps import AppConfig


class PersonasConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "personas"
    verbose_name = "Personas and spaces"

    def ready(self) -> None:
        # The directory announces changes; personas listens (users/ never imports us).
        from personas import (
            handlers,
            tasks,  # noqa: F401 (registers the tasks services queue by name)
        )

        handlers.subscribe_all()
