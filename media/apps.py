from django.apps import AppConfig


class MediaConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "media"
    verbose_name = "Profile images"

    def ready(self) -> None:
        from media import tasks  # noqa: F401 (registers the tasks services queue by name)
        from media.handlers import photo_url_set_handle, user_deleted_handle
        from users import events

        events.subscribe(events.PhotoUrlSet, photo_url_set_handle)
        events.subscribe(events.UserDeleted, user_deleted_handle)
