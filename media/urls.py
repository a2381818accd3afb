from django.urls import path

from media.api import user_image
from media.views import account_image, directory_photo

urlpatterns = [
    path("api/v1/users/<str:user_id>/image/", user_image, name="api-user-image"),
    path("account/image/", account_image, name="account-image"),
    path("people/<uuid:user_id>/photo/", directory_photo, name="directory-photo"),
]
