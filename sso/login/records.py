"""What a completed login leaves behind: the rotated Django session, the SAML session
record single logout needs, and the audit event."""

from __future__ import annotations

from django.contrib.auth import SESSION_KEY
from django.contrib.auth import login as django_login
from django.http import HttpRequest

from axero_idp.db import insert_behind
from sso.inbound import ValidLogin
from sso.models import IdentityProvider, SamlSession
from sso.provisioning import ProvisionResult
from users.models import User
from users.services import Actor, audit_record


def session_start(
    *, request: HttpRequest, idp: IdentityProvider, valid: ValidLogin, user: User
) -> None:
    """Sign the browser in with a new session key, remembered for single logout."""
    previous_key = request.session.session_key if SESSION_KEY in request.session else None
    if previous_key:
        # Django keeps the key when the same user logs in again; we rotate at every login.
        request.session.cycle_key()
    django_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    saml_session_record(request=request, idp=idp, valid=valid, user=user, previous_key=previous_key)


def saml_session_record(
    *,
    request: HttpRequest,
    idp: IdentityProvider,
    valid: ValidLogin,
    user: User,
    previous_key: str | None = None,
) -> None:
    """Remember the session for single logout (inside the login's transaction)."""
    if previous_key:
        SamlSession.objects.filter(session_key=previous_key).delete()
    # Stored here, in the login's transaction: the response's own save then finds
    # nothing new to write (axero_idp.sessions), so a login commits once.
    request.session.save()
    session_key = request.session.session_key
    assert session_key is not None
    # The key is brand new (login() rotated it, and the session row just stored under
    # it proved it unused), so this is always an insert: written behind (axero_idp.db),
    # it rides with the login's COMMIT. A clash with a stale row of the same random
    # 32-character key would fail that COMMIT as it would fail this INSERT.
    insert_behind(
        SamlSession(
            idp=idp,
            user=user,
            session_key=session_key,
            name_id=valid.name_id,
            name_id_format=valid.name_id_format or "",
            session_index=valid.session_index[:255],
        )
    )


def login_audit_record(
    *, idp: IdentityProvider, valid: ValidLogin, result: ProvisionResult
) -> None:
    audit_record(
        actor=Actor.idp(idp.slug),
        action="saml.login",
        target=result.user,
        detail={
            "idp": idp.slug,
            "created": result.created,
            "linked_by": result.linked_by,
            "roles_added": sorted(result.roles_added),
            "roles_removed": sorted(result.roles_removed),
            "ignored_attributes": result.ignored,
            "idp_initiated": valid.in_response_to is None,
        },
    )
