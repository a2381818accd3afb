"""Reading an uploaded image without reading more than the cap allows."""

from __future__ import annotations

from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest

from axero_idp.errors import ValidationFailed
from media.errors import ImageTooLarge
from media.imaging import MAX_BYTES, TOO_LARGE
from users.models import User
from users.services import Actor

# Room for the multipart boundaries, part headers and a CSRF field around a 5 MB file.
MULTIPART_SLACK = 64 * 1024
FIELD = "image"


class SizeCapUploadHandler(FileUploadHandler):
    """Stops reading an upload the moment it passes the cap (a chunked body has no
    Content-Length to check up front)."""

    exceeded = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        if start + len(raw_data) > MAX_BYTES:
            self.exceeded = True
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def upload_guard(request: HttpRequest) -> SizeCapUploadHandler:
    """Refuse a declared oversize body at once; cap the rest while it streams. Call
    before anything reads request.POST or request.FILES."""
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if declared.isdigit() and int(declared) > MAX_BYTES + MULTIPART_SLACK:
        raise ImageTooLarge(TOO_LARGE)
    cap = SizeCapUploadHandler(request)
    request.upload_handlers.insert(0, cap)
    return cap


def upload_bytes(upload: UploadedFile | None, cap: SizeCapUploadHandler | None) -> bytes:
    """The uploaded file's bytes, or the reason there are none."""
    if cap is not None and cap.exceeded:
        raise ImageTooLarge(TOO_LARGE)
    if upload is None:
        raise ValidationFailed(f"multipart field {FIELD!r} is required")
    if upload.size is not None and upload.size > MAX_BYTES:
        raise ImageTooLarge(TOO_LARGE)
    data = upload.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ImageTooLarge(TOO_LARGE)
    return bytes(data)


def image_form_apply(
    request: HttpRequest,
    *,
    user: User,
    source: str,
    actor: Actor,
    cap: SizeCapUploadHandler | None,
) -> str:
    """The upload form's POST, on the self-service page and in admin: remove the image
    ("removed") or store the uploaded file ("stored"). A refusal is an ApplicationError
    with the reason, for the page to show."""
    from media.services import profile_image_remove, profile_image_store

    if request.POST.get("action") == "remove":
        profile_image_remove(user=user, actor=actor)
        return "removed"
    data = upload_bytes(request.FILES.get(FIELD), cap)
    profile_image_store(user=user, data=data, source=source, actor=actor)
    return "stored"
