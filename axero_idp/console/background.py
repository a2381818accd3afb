"""The dashboard's "retry now" for background work: failed photo fetches go back into
their outbox and the photo and persona drains are queued at once, instead of waiting for
beat's next run."""

from __future__ import annotations

import datetime as dt

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from media.pending import photo_fetches_retry_failed
from personas.queue import drain_after_commit as personas_drain_after_commit
from users.services import Actor

from .dashboard import WINDOW

RETRY_PERMISSION = "media.change_profileimage"


@require_POST
def background_retry(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm(RETRY_PERMISSION):
        raise PermissionDenied
    since: dt.datetime = timezone.now() - WINDOW
    marked = photo_fetches_retry_failed(since=since, actor=Actor.admin(request.user))
    personas_drain_after_commit()
    messages.success(
        request,
        f"Queued: {marked} failed photo fetch(es) retried; persona evaluations drained now.",
    )
    return HttpResponseRedirect(reverse("admin:index") + "#dashboard-background")


background_retry_view = admin.site.admin_view(background_retry)
