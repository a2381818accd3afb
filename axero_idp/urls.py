from django.contrib import admin
from django.urls import include, path

from axero_idp import health, views
from axero_idp.admin_login import ThrottledAdminAuthenticationForm
from axero_idp.console.background import background_retry_view
from events.api import events_feed
from personas.api import space_members as space_members_view
from users.api import me as me_view

admin.site.site_header = "axero-idp administration"
admin.site.site_title = "axero-idp"
admin.site.login_form = ThrottledAdminAuthenticationForm

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/background/retry/", background_retry_view, name="console-background-retry"),
    path("admin/", admin.site.urls),
    path("scim/v2/", include("scim.urls")),
    path("sso/", include("sso.urls")),
    path("setup/", include("sso.setup_urls")),
    path("api/v1/me/", me_view, name="api-me"),
    path("api/v1/events/", events_feed, name="api-events"),
    path("", include("media.urls")),
    path("", include("portal.urls")),
    path("api/v1/spaces/<slug:slug>/members/", space_members_view, name="api-space-members"),
]

handler500 = views.server_error
