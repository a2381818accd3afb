"""What a login changes on the user row: last_login, to the nearest ten minutes."""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from django.db.models import Q
from django.utils import timezone

from users.models import User

LAST_LOGIN_PRECISION: Final = dt.timedelta(minutes=10)


def user_last_login_touch(*, user: User) -> None:
    """Record the login time, coarsely: within ten minutes of the stored one nothing is
    written, so a login storm does not write (and row-lock) each user row every time.
    Replaces Django's update_last_login receiver (see UsersConfig.ready)."""
    now = timezone.now()
    if user.last_login is not None and now - user.last_login < LAST_LOGIN_PRECISION:
        return
    User.objects.filter(
        Q(last_login__isnull=True) | Q(last_login__lt=now - LAST_LOGIN_PRECISION), pk=user.pk
    ).update(last_login=now)
    user.last_login = now


def last_login_receiver(sender: Any, request: Any, user: User, **kwargs: Any) -> None:
    user_last_login_touch(user=user)
