"""/account/: your profile, your photo (the upload form posts to media's /account/image/)
and your sessions, with "sign out everywhere"."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.http import require_GET, require_POST

from media.selectors import profile_image_for
from portal.context import render_page
from portal.people import field_texts, person_card, photo_url
from sso.selectors import saml_sessions_of_user
from sso.services import user_sign_out_everywhere
from users.models import User
from users.selectors import public_custom_fields, user_roles
from users.services import Actor


@require_GET
@login_required
def account(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    profile = profile_image_for(user.pk)
    sessions = saml_sessions_of_user(user.pk)
    context = {
        "nav": "account",
        "me": user,
        "card": person_card(user),
        "fields": field_texts(public_custom_fields(user)),
        "roles": user_roles(user.pk),
        "profile": profile,
        "image_url": photo_url(user) if profile else None,
        "sessions": sessions,
        "session_key": request.session.session_key,
        "current_is_saml": any(s.session_key == request.session.session_key for s in sessions),
        "session_expires": request.session.get_expiry_date(),
    }
    return render_page(request, "portal/account.html", context)


@require_POST
@login_required
def sign_out_everywhere(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    user_sign_out_everywhere(user=user, actor=Actor.person(user))
    logout(request)
    messages.success(request, "You are signed out on every device.")
    return HttpResponseRedirect("/")
