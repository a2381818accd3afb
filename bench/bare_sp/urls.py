from django.urls import path

from . import views

urlpatterns = [
    path("healthz", views.healthz),
    path("bare/login/", views.login),
    path("bare/acs/", views.acs),
    path("bare/done/", views.done),
]
