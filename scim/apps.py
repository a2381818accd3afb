from django.apps import AppConfig


class ScimConfig(AppConfig):
    name = "scim"
    verbose_name = "SCIM provisioning"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The events feed shows users as SCIM resources; the renderer is ours, and the
        # events app (a domain app) may not import us, so we hand it over.
        from events.representation import user_renderer_register
        from scim import tasks  # noqa: F401 (registered, as beat queues it by name)
        from scim.attributes import USER
        from scim.render import Projection, user_resource

        projection = Projection(USER)
        user_renderer_register(
            lambda user, custom_fields: user_resource(
                user, projection=projection, custom_fields=custom_fields
            )
        )
