"""Sign-in to admin, throttled: after a few failed attempts for one username, or more
from one client address, within WINDOW_SECONDS, the form refuses without checking the
password. Counts are shared by every web process (axero_idp.limits: Redis when
REDIS_URL is set), so adding processes does not multiply the guesses.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any, Final

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError

from axero_idp.client_address import client_address
from axero_idp.limits import counter_hit, counter_reset, counter_value

logger = logging.getLogger(__name__)

WINDOW_SECONDS: Final = 15 * 60
THROTTLED: Final = (
    "Too many failed sign-in attempts. Wait 15 minutes and try again, "
    "or ask another administrator to reset your password."
)


def _username_key(username: str) -> str:
    # Hashed: cache keys are logged and listed, user names are personal data.
    digest = hashlib.sha256(username.strip().lower().encode("utf-8", "replace")).hexdigest()
    return f"admin-login-user:{digest[:32]}"


def _counters(username: str, address: str) -> list[tuple[str, int]]:
    """(counter name, failures allowed) that a sign-in attempt is checked against."""
    counters = [(f"admin-login-ip:{address}", settings.ADMIN_LOGIN_MAX_FAILURES_PER_IP)]
    if username.strip():
        counters.append((_username_key(username), settings.ADMIN_LOGIN_MAX_FAILURES_PER_USERNAME))
    return counters


class ThrottledAdminAuthenticationForm(AdminAuthenticationForm):
    """Django admin's sign-in form, refusing once the attempts' counters are spent."""

    def clean(self) -> dict[str, Any]:
        username = str(self.cleaned_data.get("username") or "")
        address = client_address(self.request) if self.request else ""
        counters = _counters(username, address)
        if any(
            counter_value(name, window_seconds=WINDOW_SECONDS) >= limit for name, limit in counters
        ):
            logger.warning("admin sign-in throttled", extra={"client": address})
            raise ValidationError(THROTTLED, code="throttled")
        try:
            cleaned = super().clean()
        except ValidationError:
            for name, _limit in counters:
                counter_hit(name, window_seconds=WINDOW_SECONDS)
            raise
        counter_reset(_username_key(username), window_seconds=WINDOW_SECONDS)
        return cleaned
