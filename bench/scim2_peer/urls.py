from django.http import HttpResponse
from django.urls import include, path

urlpatterns = [
    path("healthz", lambda request: HttpResponse("ok")),
    path("scim/v2/", include("django_scim.urls", namespace="scim")),
]
