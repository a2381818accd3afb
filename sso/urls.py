from django.urls import path

from sso import views

app_name = "sso"

urlpatterns = [
    path("", views.route, name="route"),
    path("<slug:slug>/login/", views.login, name="login"),
    path("<slug:slug>/test-login/", views.test_login, name="test_login"),
    path("<slug:slug>/acs/", views.acs, name="acs"),
    path("<slug:slug>/acs/complete/", views.acs_complete, name="acs_complete"),
    path("<slug:slug>/sls/", views.sls, name="sls"),
    path("<slug:slug>/metadata/", views.metadata, name="metadata"),
    path("<slug:slug>/logout/", views.logout, name="logout"),
    path("<slug:slug>/logged-out/", views.logged_out, name="logged_out"),
]
