from django.urls import path

from sso import setup_views

app_name = "sso_setup"

urlpatterns = [
    path("", setup_views.setup_page, name="page"),
    path("metadata/", setup_views.setup_metadata, name="metadata"),
    path("test-login/", setup_views.setup_test_login, name="test_login"),
    path("<str:token>/", setup_views.setup_open, name="open"),
]
