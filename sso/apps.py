from django.apps import AppConfig


class SsoConfig(AppConfig):
    name = "sso"
    verbose_name = "Single sign-on (SAML)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # python3-saml recompiles the SAML XSD schemas and its XPath queries on every
        # message; compile once per thread.
        from sso import schema_cache, tasks  # noqa: F401 (tasks: registered for beat and queues)

        schema_cache.install()
