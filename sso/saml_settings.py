"""python3-saml settings for one IdP, built from the database and SITE_URL.

Building OneLogin_Saml2_Settings parses and checks every certificate; it is derived,
immutable configuration, so each process keeps the built object per (IdP fields it is
built from, SP key id, SITE_URL) and rebuilds it when any of those changes.
"""

from __future__ import annotations

import calendar
import threading
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.errors import OneLogin_Saml2_Error
from onelogin.saml2.settings import OneLogin_Saml2_Settings

from sso.keys import KeyPair, older_key_pairs, signing_key_pair
from sso.models import IdentityProvider, SsoBinding
from sso.prechecks import Expectations
from sso.refusals import RefusalReason, SamlRefused

_BINDINGS: Final = {
    SsoBinding.REDIRECT: C.BINDING_HTTP_REDIRECT,
    SsoBinding.POST: C.BINDING_HTTP_POST,
}
_CACHE_LIMIT: Final = 256


@dataclass(frozen=True)
class SpUrls:
    """This SP's URLs for one IdP, from SITE_URL as it is now."""

    entity_id: str
    acs: str
    sls: str

    @classmethod
    def for_idp(cls, slug: str) -> SpUrls:
        base = settings.SITE_URL.rstrip("/")
        return cls(
            entity_id=base + reverse("sso:metadata", args=[slug]),
            acs=base + reverse("sso:acs", args=[slug]),
            sls=base + reverse("sso:sls", args=[slug]),
        )


def request_data_for(
    url: str,
    *,
    get: dict[str, str] | None = None,
    post: dict[str, str] | None = None,
    query_string: str = "",
) -> dict[str, Any]:
    """python3-saml's view of "the current request", built from our own public URL
    (never from Host headers), so Destination and Recipient are compared with it."""
    parts = urlsplit(url)
    return {
        "https": "on" if parts.scheme == "https" else "off",
        "http_host": parts.netloc,
        "script_name": parts.path,
        "get_data": get or {},
        "post_data": post or {},
        "query_string": query_string,
        # Verify Redirect-binding signatures over the bytes the IdP signed, not over
        # our re-encoding of them.
        "validate_signature_from_qs": bool(query_string),
    }


def response_expectations(idp: IdentityProvider, urls: SpUrls) -> Expectations:
    """What a login Response for idp must say about us, its sender and the time."""
    return Expectations(
        acs_url=urls.acs,
        sp_entity_id=urls.entity_id,
        idp_entity_id=idp.entity_id,
        clock_skew=idp.clock_skew_seconds,
        now=calendar.timegm(timezone.now().utctimetuple()),
    )


def settings_dict(idp: IdentityProvider, urls: SpUrls, key: KeyPair) -> dict[str, Any]:
    """The python3-saml settings for idp: strict, signed everything, no SHA-1."""
    return {
        "strict": True,
        "debug": False,
        "sp": {
            "entityId": urls.entity_id,
            "assertionConsumerService": {"url": urls.acs, "binding": C.BINDING_HTTP_POST},
            "singleLogoutService": {"url": urls.sls, "binding": C.BINDING_HTTP_REDIRECT},
            "NameIDFormat": C.NAMEID_UNSPECIFIED,
            "x509cert": key.certificate_pem,
            "privateKey": key.private_key_pem,
        },
        "idp": _idp_data(idp),
        "security": _security(idp),
    }


def _idp_data(idp: IdentityProvider) -> dict[str, Any]:
    certs = [c for c in idp.signing_certificates if c]
    idp_data: dict[str, Any] = {
        "entityId": idp.entity_id,
        "singleSignOnService": {
            "url": idp.sso_url,
            "binding": _BINDINGS[SsoBinding(idp.sso_binding)],
        },
        "x509certMulti": {"signing": certs},
    }
    if idp.slo_url:
        idp_data["singleLogoutService"] = {"url": idp.slo_url, "binding": C.BINDING_HTTP_REDIRECT}
    return idp_data


def _security(idp: IdentityProvider) -> dict[str, Any]:
    return {
        "authnRequestsSigned": True,
        "logoutRequestSigned": True,
        "logoutResponseSigned": True,
        # Logout messages must be signed; for a login response python3-saml would
        # demand a signed <Response>: we accept a signed Response or Assertion and
        # enforce want_assertions_signed per IdP (sso.inbound checks the message).
        "wantMessagesSigned": False,
        "wantAssertionsSigned": idp.want_assertions_signed,
        "wantAssertionsEncrypted": idp.want_assertions_encrypted,
        "wantNameId": True,
        "wantNameIdEncrypted": False,
        "wantAttributeStatement": False,
        "allowRepeatAttributeName": True,
        "rejectDeprecatedAlgorithm": True,
        "signatureAlgorithm": C.RSA_SHA256,
        "digestAlgorithm": C.SHA256,
        "requestedAuthnContext": False,
        "allowSingleLabelDomains": True,
    }


@dataclass(frozen=True)
class BuiltSettings:
    """python3-saml settings for one IdP: `login` for responses and for what we send,
    `logout` (wantMessagesSigned on) for logout messages the IdP sends us, which
    python3-saml checks for a signature only under that flag."""

    login: OneLogin_Saml2_Settings
    logout: OneLogin_Saml2_Settings
    urls: SpUrls
    sp_certificates: tuple[str, ...]
    # `login` with each older active SP key: what an assertion encrypted for a key
    # being rolled over is decrypted with (empty outside a rollover).
    decrypt_fallbacks: tuple[OneLogin_Saml2_Settings, ...] = ()


_cache: dict[tuple[Any, ...], BuiltSettings] = {}
_lock = threading.Lock()


def saml_settings(idp: IdentityProvider) -> BuiltSettings:
    """The built python3-saml settings for idp, from this process's cache."""
    key, all_certs = signing_key_pair()
    cache_key = _cache_key(idp, key, all_certs)
    built = _cache.get(cache_key)
    if built is None:
        built = _settings_build(idp, key, all_certs)
        with _lock:
            if len(_cache) >= _CACHE_LIMIT:
                _cache.clear()
            _cache[cache_key] = built
    return built


def _cache_key(idp: IdentityProvider, key: KeyPair, all_certs: tuple[str, ...]) -> tuple[Any, ...]:
    # Every field the settings are built from (not updated_at: a queryset update()
    # does not move it).
    return (
        idp.pk,
        idp.slug,
        idp.entity_id,
        idp.sso_url,
        idp.sso_binding,
        idp.slo_url,
        tuple(idp.signing_certificates),
        idp.want_assertions_signed,
        idp.want_assertions_encrypted,
        key.id,
        all_certs,
        settings.SITE_URL,
    )


def _settings_build(
    idp: IdentityProvider, key: KeyPair, all_certs: tuple[str, ...]
) -> BuiltSettings:
    urls = SpUrls.for_idp(idp.slug)
    data = settings_dict(idp, urls, key)
    logout_data = {**data, "security": {**data["security"], "wantMessagesSigned": True}}
    try:
        return BuiltSettings(
            login=OneLogin_Saml2_Settings(data),
            logout=OneLogin_Saml2_Settings(logout_data),
            urls=urls,
            sp_certificates=all_certs,
            decrypt_fallbacks=tuple(
                OneLogin_Saml2_Settings(settings_dict(idp, urls, older))
                for older in older_key_pairs()
            ),
        )
    except OneLogin_Saml2_Error as exc:
        # An IdP saved without a certificate or with a broken URL: the admin reads this
        # in the refusal's audit event and on the IdP's admin page.
        raise SamlRefused(
            RefusalReason.VALIDATION, f"identity provider misconfigured: {exc}"
        ) from exc


def settings_cache_clear() -> None:
    with _lock:
        _cache.clear()
