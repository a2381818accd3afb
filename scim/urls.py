"""SCIM 2.0 endpoints under /scim/v2/ (INTERFACES.md §4).

A trailing slash is accepted everywhere: some IdP connectors append one.
"""

from django.urls import re_path

from scim.attributes import GROUP, USER
from scim.views.discovery import (
    BulkView,
    ResourceTypesView,
    SchemasView,
    ServiceProviderConfigView,
)
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

_ID = r"(?P<pk>[^/]+)"
_KEY = r"(?P<key>[^/]+)"

urlpatterns = [
    re_path(r"^Users/?$", UsersView.as_view(), name="users"),
    re_path(r"^Users/\.search/?$", SearchView.as_view(resource=USER), name="users-search"),
    re_path(rf"^Users/{_ID}/?$", UserView.as_view(), name="user"),
    re_path(r"^Groups/?$", GroupsView.as_view(), name="groups"),
    re_path(r"^Groups/\.search/?$", SearchView.as_view(resource=GROUP), name="groups-search"),
    re_path(rf"^Groups/{_ID}/?$", GroupView.as_view(), name="group"),
    re_path(r"^\.search/?$", RootSearchView.as_view(), name="search"),
    re_path(r"^Bulk/?$", BulkView.as_view(), name="bulk"),
    re_path(r"^ServiceProviderConfig/?$", ServiceProviderConfigView.as_view(), name="spc"),
    re_path(r"^ResourceTypes/?$", ResourceTypesView.as_view(), name="resource-types"),
    re_path(rf"^ResourceTypes/{_KEY}/?$", ResourceTypesView.as_view(), name="resource-type"),
    re_path(r"^Schemas/?$", SchemasView.as_view(), name="schemas"),
    re_path(rf"^Schemas/{_KEY}/?$", SchemasView.as_view(), name="schema"),
    re_path(r"^.*$", NotFoundView.as_view(), name="not-found"),
]
