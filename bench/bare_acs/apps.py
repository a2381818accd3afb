from django.apps import AppConfig
from django.conf import settings


class BareAcsConfig(AppConfig):
    name = "bench.bare_acs"
    label = "bare_acs"

    def ready(self) -> None:
        if settings.BARE_PRODUCT_SESSIONS:
            return
        from django.contrib.auth.models import update_last_login
        from django.contrib.auth.signals import user_logged_in

        from users.services.logins import last_login_receiver

        # Stock Django, as python3-saml's demo runs: last_login written at every login.
        user_logged_in.disconnect(last_login_receiver, dispatch_uid="users_last_login")
        user_logged_in.connect(update_last_login, dispatch_uid="update_last_login")
