"""RSA keys and self-signed certificates for the IdP peer (cryptography)."""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class KeyPair:
    """An RSA key and its self-signed certificate, also written to files for xmlsec1."""

    key_pem: bytes
    cert_pem: bytes
    key_file: Path
    cert_file: Path

    @classmethod
    def generate(cls, directory: Path, name: str) -> KeyPair:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        start = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=3650))
            .sign(key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        directory.mkdir(parents=True, exist_ok=True)
        key_file, cert_file = directory / f"{name}.key", directory / f"{name}.crt"
        key_file.write_bytes(key_pem)
        cert_file.write_bytes(cert_pem)
        return cls(key_pem=key_pem, cert_pem=cert_pem, key_file=key_file, cert_file=cert_file)

    @property
    def cert_b64(self) -> str:
        """The certificate as metadata and KeyInfo carry it: base64 DER, no armour."""
        return "".join(
            line for line in self.cert_pem.decode().splitlines() if "CERTIFICATE" not in line
        )

    def private_key(self) -> rsa.RSAPrivateKey:
        key = serialization.load_pem_private_key(self.key_pem, password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return key


def certificate_from_b64(body: str) -> x509.Certificate:
    return x509.load_der_x509_certificate(base64.b64decode("".join(body.split())))
