"""Admin: each user's page shows their profile image with a link to upload, replace or
remove it (through media.services, audited as the admin); a read-only list of images
with the last fetch failure of each, for troubleshooting."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from axero_idp.errors import ApplicationError
from media.api import image_url
from media.models import ImageSource, ProfileImage
from media.selectors import profile_image_for, profile_image_state
from media.uploads import image_form_apply
from users.admin.common import ReadOnlyAdmin
from users.admin.users import UserAdmin as DirectoryUserAdmin
from users.models import User
from users.selectors import user_get
from users.services import Actor


@admin.register(ProfileImage)
class ProfileImageAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = (
        "user",
        "source",
        "content_type",
        "width",
        "height",
        "byte_size",
        "updated_at",
        "last_failure_at",
        "last_failure_reason",
    )
    list_filter = ("source", "content_type")
    search_fields = ("user__username", "user__email", "last_failure_reason")
    list_select_related = ("user",)
    show_full_result_count = False

    def get_urls(self) -> list[Any]:
        manage = path(
            "user/<str:user_id>/",
            self.admin_site.admin_view(self.manage_view),
            name="media_profileimage_manage",
        )
        return [manage, *super().get_urls()]

    def manage_view(self, request: HttpRequest, user_id: str) -> HttpResponse:
        """Upload, replace or remove one user's image (POST goes through the services)."""
        if not request.user.has_perm("users.change_user"):  # type: ignore[union-attr]
            raise PermissionDenied
        user = user_get(user_id)
        if user is None:
            raise Http404("user not found")
        status = 200
        if request.method == "POST":
            try:
                done = image_form_apply(
                    request,
                    user=user,
                    source=ImageSource.ADMIN,
                    actor=Actor.admin(request.user),
                    cap=None,
                )
                self.message_user(request, f"Profile image {done}.", messages.SUCCESS)
                return HttpResponseRedirect(request.get_full_path())
            except ApplicationError as exc:
                self.message_user(request, exc.detail, messages.ERROR)
                status = exc.http_status
        profile = profile_image_for(user.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Profile image of {user.username}",
            "subject": user,
            "profile": profile,
            "image_url": image_url(user.pk, profile) if profile else None,
            "user_change_url": reverse("admin:users_user_change", args=[user.pk]),
            "opts": self.model._meta,
        }
        return TemplateResponse(
            request, "admin/media/profileimage/manage.html", context, status=status
        )


admin.site.unregister(User)


@admin.register(User)
class UserAdmin(DirectoryUserAdmin):
    """The directory's user admin plus the profile image (users/ cannot import media/,
    so media/ extends the admin instead)."""

    readonly_fields = (*DirectoryUserAdmin.readonly_fields, "profile_image_preview")  # type: ignore[assignment]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return fieldsets
        return (*fieldsets, ("Profile image", {"fields": ("profile_image_preview",)}))

    @admin.display(description="Image")
    def profile_image_preview(self, obj: User) -> str:
        manage = reverse("admin:media_profileimage_manage", args=[obj.pk])
        state = profile_image_state(obj.pk)
        failure = ""
        if state is not None and state.last_failure_at:
            failure = format_html(
                '<br><span class="errornote">Last photo fetch failed {} UTC: {}</span>',
                f"{state.last_failure_at:%Y-%m-%d %H:%M}",
                state.last_failure_reason,
            )
        if state is None or not state.has_image:
            return format_html('No image. <a href="{}">Upload one</a>{}', manage, failure)
        return format_html(
            '<img src="{}" alt="" width="96"> {}x{} px, {}: <a href="{}">Replace or remove</a>{}',
            image_url(obj.pk, state),
            state.width,
            state.height,
            state.get_source_display(),
            manage,
            failure,
        )
