"""/account/image/: a logged-in person uploads or removes their own profile image. The
form lives on /account/ (the employee pages); a GET here goes there, a refused upload
is answered here with its status and reason."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from axero_idp.errors import ApplicationError, NotFound
from media.errors import ImageTooLarge
from media.models import ImageSource
from media.selectors import directory_photo_for
from media.serving import profile_image_response
from media.uploads import SizeCapUploadHandler, image_form_apply, upload_guard
from users.services import Actor

PAGE = "/account/"
# What the person reads after each outcome of image_form_apply.
SAID = {"removed": "removed", "stored": "updated"}


@csrf_exempt  # only so the size cap is installed before the CSRF check reads the body
@require_http_methods(["GET", "POST"])
def account_image(request: HttpRequest) -> HttpResponse:
    """Install the upload size cap, then hand over to the CSRF-protected page."""
    cap: SizeCapUploadHandler | None = None
    if request.method == "POST":
        try:
            cap = upload_guard(request)
        except ImageTooLarge as exc:
            # Answered without reading the body (nothing changes, so no CSRF check).
            return HttpResponse(
                f"The image is {exc.detail}.", status=413, content_type="text/plain"
            )
    return _account_image(request, cap)


@csrf_protect
@login_required
def _account_image(request: HttpRequest, cap: SizeCapUploadHandler | None) -> HttpResponse:
    user = request.user
    if request.method != "POST":
        return HttpResponseRedirect(PAGE)
    try:
        done = image_form_apply(
            request,
            user=user,  # type: ignore[arg-type]
            source=ImageSource.UPLOAD,
            actor=Actor.person(user),
            cap=cap,
        )
    except ApplicationError as exc:
        context = {"reason": exc.detail, "back": PAGE, "nav": "account"}
        return render(request, "media/account_image.html", context, status=exc.http_status)
    messages.success(request, f"Your profile image was {SAID[done]}.")
    return HttpResponseRedirect(PAGE)


@require_GET
@login_required
def directory_photo(request: HttpRequest, user_id: uuid.UUID) -> HttpResponseBase:
    """A colleague's photo as the employee pages show it: any signed-in person may see
    an active person's photo, as they see their name and title there. The image API
    (/api/v1/users/<id>/image/) stays for tokens, staff allowed to view users, and each
    person's own image."""
    profile = directory_photo_for(user_id)
    if profile is None:
        raise Http404("no photo")
    try:
        return profile_image_response(request, profile)
    except NotFound:
        raise Http404("no photo") from None
