"""/api/v1/users/{id}/image/: GET the stored image, POST one ("Add User Image"), DELETE.

A provisioning token may do all three; a staff session with the model permission admin
would ask for (users.view_user to GET, users.change_user to POST or DELETE); a person
may GET their own. Images are only ever served here, never from a public MEDIA_URL.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.http.response import HttpResponseBase
from rest_framework import exceptions as drf_exceptions
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from axero_idp.errors import ApplicationError, Forbidden, NotFound
from axero_idp.principals import has_staff_permission, is_token
from media.models import ImageSource, ProfileImage
from media.selectors import profile_image_for
from media.services import profile_image_remove, profile_image_store
from media.serving import profile_image_response
from media.uploads import FIELD, SizeCapUploadHandler, upload_bytes, upload_guard
from users.models import User
from users.selectors import user_get, user_image_url
from users.services import Actor


class NotMultipart(ApplicationError):
    code = "unsupported_media_type"
    http_status = 415


def image_url(user_id: object, profile: ProfileImage) -> str:
    url = user_image_url(user_id, profile.version)
    assert url is not None  # a stored image always has a version
    return url


def image_representation(profile: ProfileImage) -> dict[str, Any]:
    return {
        "userId": str(profile.user_id),
        "url": image_url(profile.user_id, profile),
        "contentType": profile.content_type,
        "width": profile.width,
        "height": profile.height,
        "byteSize": profile.byte_size,
        "sha256": profile.sha256,
        "source": profile.source,
        "updatedAt": profile.updated_at.isoformat(),
    }


def _actor(request: Request) -> Actor:
    if is_token(request):
        return Actor.scim(request.user.token_name)  # type: ignore[union-attr]
    return Actor.admin(request.user)


def _same_id(pk: object, user_id: str) -> bool:
    """Whether the id in the URL names this person (any spelling of the UUID)."""
    try:
        return pk is not None and uuid.UUID(user_id) == pk
    except ValueError:
        return False


class UserImageApi(APIView):
    parser_classes = [MultiPartParser]
    permission_classes = [IsAuthenticated]  # anonymous: 401; who may do what: below
    _upload_cap: SizeCapUploadHandler | None = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        if request.method == "POST":
            # Before authentication: a session's CSRF check reads request.POST, which
            # parses the whole multipart body. An oversized declared body is refused
            # unread (to anyone: the answer reveals nothing), a streamed one is cut off.
            self._upload_cap = upload_guard(request._request)
        super().initial(request, *args, **kwargs)

    def _user(self, request: Request, user_id: str, *, self_allowed: bool) -> User:
        # Another person's image is theirs to change as their user page is in admin.
        perms = ("users.view_user", "users.change_user") if self_allowed else ("users.change_user",)
        if not (is_token(request) or has_staff_permission(request, *perms)):
            own = self_allowed and _same_id(getattr(request.user, "pk", None), user_id)
            if not own:
                raise Forbidden(
                    "only a provisioning token or staff with the permission to "
                    f"{'view' if self_allowed else 'change'} users may manage this image"
                )
        user = user_get(user_id)
        if user is None:
            raise NotFound("user not found")
        return user

    def get(self, request: Request, user_id: str) -> HttpResponseBase:
        """The stored image, with an ETag; 304 when the browser has it already."""
        user = self._user(request, user_id, self_allowed=True)
        profile = profile_image_for(user.pk)
        if profile is None:
            raise NotFound("the user has no profile image")
        return profile_image_response(request, profile)

    def post(self, request: Request, user_id: str) -> Response:
        """Add User Image: multipart field `image`, stored synchronously."""
        user = self._user(request, user_id, self_allowed=False)
        try:
            upload = request.FILES.get(FIELD)
        except (drf_exceptions.UnsupportedMediaType, drf_exceptions.ParseError) as exc:
            raise NotMultipart("send the image as multipart/form-data, field 'image'") from exc
        profile = profile_image_store(
            user=user,
            data=upload_bytes(upload, self._upload_cap),
            source=ImageSource.API,
            actor=_actor(request),
        )
        return Response(image_representation(profile), status=201)

    def delete(self, request: Request, user_id: str) -> Response:
        """Remove the stored image; 404 when there is none."""
        user = self._user(request, user_id, self_allowed=False)
        profile_image_remove(user=user, actor=_actor(request))
        return Response(status=204)


user_image = UserImageApi.as_view()
