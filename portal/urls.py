from django.urls import path

from portal.views import account, home, people, spaces

app_name = "portal"

urlpatterns = [
    path("", home.home, name="home"),
    path("sign-out/", home.sign_out, name="sign-out"),
    path("people/", people.people, name="people"),
    path("people/<uuid:user_id>/", people.person, name="person"),
    path("people/<uuid:user_id>/org/", people.org, name="org"),
    path("people/<uuid:user_id>/reports/", people.reports, name="reports"),
    path("spaces/", spaces.spaces, name="spaces"),
    path("spaces/<slug:slug>/", spaces.space, name="space"),
    path("account/", account.account, name="account"),
    path("account/sign-out-everywhere/", account.sign_out_everywhere, name="sign-out-everywhere"),
]
