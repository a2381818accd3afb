from django.urls import path

from axero_idp import health
from bench.bare_acs import views

urlpatterns = [
    path("healthz", health.healthz),
    path("bare/login/", views.login),
    path("bare/acs/", views.acs),
    path("bare/done/", views.done),
]
