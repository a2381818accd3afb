"""This service provider's key pairs: generated on first use, shared by every web
process through the database, private keys encrypted at rest with SECRET_KEY.

SECRET_KEY rotation follows Django's own: the old value goes into SECRET_KEY_FALLBACKS,
which still decrypts the stored keys, until `manage.py sp_keys reencrypt` has moved
them onto the new SECRET_KEY."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction

from sso.models import SPKey

logger = logging.getLogger(__name__)

FIRST_KEY_NAME = "sp-key-1"
KEY_VALIDITY = dt.timedelta(days=3650)


@dataclass(frozen=True)
class KeyPair:
    """A decrypted SP key pair, ready for python3-saml (PEM text)."""

    id: int
    certificate_pem: str
    private_key_pem: str


def _fernet_for(secret: str) -> Fernet:
    # A dedicated derivation, so the key encrypting SP keys is not SECRET_KEY itself.
    digest = hashlib.sha256(b"axero-idp sso.keys v1:" + secret.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _fernet() -> MultiFernet:
    """Encrypts with SECRET_KEY; decrypts with it or any of SECRET_KEY_FALLBACKS."""
    secrets = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    return MultiFernet([_fernet_for(secret) for secret in secrets])


def private_key_encrypt(pem: str) -> str:
    return _fernet().encrypt(pem.encode()).decode()


def private_key_decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "An SP private key cannot be decrypted: SECRET_KEY changed since it was made. "
            "Put the old value in SECRET_KEY_FALLBACKS and run `manage.py sp_keys "
            "reencrypt`, or retire that key in admin (a new one is generated) and re-send "
            "SP metadata."
        ) from exc


def key_pair_generate(common_name: str) -> tuple[str, str]:
    """A new RSA 2048 key and a self-signed certificate valid for ten years (PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + KEY_VALIDITY)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return cert_pem, key_pem


def sp_key_create(*, name: str) -> SPKey:
    """Generate and store a new active SP key (rollover: both are then published)."""
    cert_pem, key_pem = key_pair_generate(urlsplit_host(settings.SITE_URL))
    sp_key = SPKey.objects.create(
        name=name, certificate_pem=cert_pem, private_key_encrypted=private_key_encrypt(key_pem)
    )
    logger.info("SP key created", extra={"sp_key": sp_key.pk})
    transaction.on_commit(keys_cache_clear)
    keys_cache_clear()
    return sp_key


@transaction.atomic
def sp_keys_reencrypt() -> int:
    """Re-encrypt every stored SP private key with the current SECRET_KEY (the last step
    of a SECRET_KEY rotation); returns how many were rewritten."""
    fernet = _fernet()
    rewritten = 0
    for sp_key in SPKey.objects.select_for_update().order_by("pk"):
        try:
            token = fernet.rotate(sp_key.private_key_encrypted.encode()).decode()
        except InvalidToken as exc:
            raise ImproperlyConfigured(
                f"SP key {sp_key.name!r} is encrypted with neither SECRET_KEY nor any of "
                "SECRET_KEY_FALLBACKS"
            ) from exc
        SPKey.objects.filter(pk=sp_key.pk).update(private_key_encrypted=token)
        rewritten += 1
    logger.info("SP keys re-encrypted", extra={"count": rewritten})
    transaction.on_commit(keys_cache_clear)
    return rewritten


def urlsplit_host(url: str) -> str:
    return urlsplit(url).hostname or "axero-idp"


def _active_keys() -> list[SPKey]:
    return list(SPKey.objects.filter(is_active=True).order_by("-created_at", "-id"))


def sp_keys_active() -> list[SPKey]:
    """Every active SP key, newest first; one is created when none is active (first use,
    or after the last one was retired).

    Several processes may get here at once: the unique name makes exactly one insert
    win and the others read the winner's key."""
    keys = _active_keys()
    if keys:
        return keys
    name = FIRST_KEY_NAME if not SPKey.objects.exists() else f"sp-key-{SPKey.objects.count() + 1}"
    try:
        with transaction.atomic():
            sp_key_create(name=name)
    except IntegrityError:
        logger.info("another process created the SP key")
    return _active_keys()


# Derived, immutable data (the truth stays in the database): a rollover reaches every
# process within this many seconds.
_KEYS_TTL = 60.0
_keys_cache: tuple[float, tuple[KeyPair, ...]] | None = None


def _active_pairs() -> tuple[KeyPair, ...]:
    """Every active key pair, decrypted, newest first (cached for _KEYS_TTL)."""
    global _keys_cache
    now = time.monotonic()
    if _keys_cache is not None and now - _keys_cache[0] < _KEYS_TTL:
        return _keys_cache[1]
    pairs = tuple(
        KeyPair(
            id=key.pk,
            certificate_pem=key.certificate_pem,
            private_key_pem=private_key_decrypt(key.private_key_encrypted),
        )
        for key in sp_keys_active()
    )
    _keys_cache = (now, pairs)
    return pairs


def signing_key_pair() -> tuple[KeyPair, tuple[str, ...]]:
    """The newest active key pair (decrypted) and every active certificate (PEM)."""
    pairs = _active_pairs()
    return pairs[0], tuple(pair.certificate_pem for pair in pairs)


def older_key_pairs() -> tuple[KeyPair, ...]:
    """The active key pairs other than the newest: during a rollover an IdP may still
    encrypt assertions for one of them."""
    return _active_pairs()[1:]


def keys_cache_clear() -> None:
    global _keys_cache
    _keys_cache = None
