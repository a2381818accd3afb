"""SCIM 2.0 endpoints under /scim/v2/ (INTERFACES.md §4)."""

from django.urls import path, re_path

from scim.attributes import GROUP, USER
from scim.views.discovery import BulkView, ResourceTypesView, SchemasView, ServiceProviderConfigView
from scim.views.resources import (
    GroupsView,
    GroupView,
    NotFoundView,
    RootSearchView,
    SearchView,
    UsersView,
    UserView,
)

app_name = "scim"

urlpatterns = [
    path("Users", UsersView.as_view(), name="users"),
    path("Users/.search", SearchView.as_view(resource=USER), name="users-search"),
    path("Users/<str:pk>", UserView.as_view(), name="user"),
    path("Groups", GroupsView.as_view(), name="groups"),
    path("Groups/.search", SearchView.as_view(resource=GROUP), name="groups-search"),
    path("Groups/<str:pk>", GroupView.as_view(), name="group"),
    path(".search", RootSearchView.as_view(), name="search"),
    path("Bulk", BulkView.as_view(), name="bulk"),
    path("ServiceProviderConfig", ServiceProviderConfigView.as_view(), name="spc"),
    path("ResourceTypes", ResourceTypesView.as_view(), name="resource-types"),
    path("ResourceTypes/<str:key>", ResourceTypesView.as_view(), name="resource-type"),
    path("Schemas", SchemasView.as_view(), name="schemas"),
    path("Schemas/<str:key>", SchemasView.as_view(), name="schema"),
    re_path(r"^.*$", NotFoundView.as_view(), name="not-found"),
]
