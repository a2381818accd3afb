from django.apps import AppConfig


class MediaConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "media"
    verbose_name = "Profile images"

    def ready(self) -> None:
        from media import tasks  # noqa: F401 (registers the tasks services queue by name)
        from media.handlers import photo_url_set_mark, user_deleted_handle
        from users import events

        # In the transaction: the fetch is an outbox row committed with the change.
        events.subscribe_in_transaction(events.PhotoUrlSet, photo_url_set_mark)
        events.subscribe(events.UserDeleted, user_deleted_handle)
