from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The employee pages: home, people, org chart, spaces, account. A presentation app:
    it reads the domain apps' selectors and sso's sign-in selectors; nothing imports it."""

    name = "portal"
    verbose_name = "Employee pages"
