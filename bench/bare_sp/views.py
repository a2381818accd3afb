"""The bare SP's views, as python3-saml's demo-django writes them: the settings are
loaded and OneLogin_Saml2_Auth is built on every request, the AuthnRequest ID is kept
in the session, process_response() validates the signed response (strict mode), and the
user is logged in with django.contrib.auth.

No replay cache, no exact Destination/Recipient check, no provisioning, no roles, no
audit: the floor the product's full login is measured against."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib.auth import login as django_login
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.views.decorators.csrf import csrf_exempt
from onelogin.saml2.auth import OneLogin_Saml2_Auth


def _prepare_django_request(request: HttpRequest) -> dict:
    return {
        "https": "on" if request.is_secure() else "off",
        "http_host": request.META["HTTP_HOST"],
        "script_name": request.META["PATH_INFO"],
        "get_data": request.GET.copy(),
        "post_data": request.POST.copy(),
    }


def _init_saml_auth(request: HttpRequest) -> OneLogin_Saml2_Auth:
    # The demo reads settings.json (and the certs) from disk on every request.
    with open(settings.SAML_SETTINGS_FILE) as handle:
        saml_settings = json.load(handle)
    return OneLogin_Saml2_Auth(_prepare_django_request(request), saml_settings)


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


def login(request: HttpRequest) -> HttpResponse:
    auth = _init_saml_auth(request)
    url = auth.login(return_to="/bare/done/")
    request.session["AuthNRequestID"] = auth.get_last_request_id()
    return HttpResponseRedirect(url)


@csrf_exempt
def acs(request: HttpRequest) -> HttpResponse:
    auth = _init_saml_auth(request)
    request_id = request.session.get("AuthNRequestID")
    auth.process_response(request_id=request_id)
    errors = auth.get_errors()
    if errors or not auth.is_authenticated():
        return HttpResponseBadRequest(f"SAML error: {', '.join(errors)}")
    request.session.pop("AuthNRequestID", None)
    name_id = auth.get_nameid()
    user, _ = User.objects.get_or_create(username=name_id[:150], defaults={"email": name_id})
    django_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    request.session["samlUserdata"] = auth.get_attributes()
    request.session["samlNameId"] = name_id
    request.session["samlSessionIndex"] = auth.get_session_index()
    return HttpResponseRedirect("/bare/done/")


def done(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"logged in: {request.user.is_authenticated}")
