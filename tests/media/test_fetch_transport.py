"""The fetcher's transport: TLS is verified, proxies from the environment are ignored,
compressed bodies are not inflated."""

from __future__ import annotations

import datetime as dt
import gzip
import http.server
import ssl
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from axero_idp.safe_fetch import FetchRefused
from media.errors import ImageRefused
from media.fetching import image_download
from media.imaging import image_normalise
from tests.media.conftest import Route, image_bytes

PNG = image_bytes("PNG")


def _self_signed(tmp_path) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


class _PngHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(PNG)))
        self.end_headers()
        self.wfile.write(PNG)

    def log_message(self, *args):
        pass


@pytest.fixture
def tls_server(tmp_path):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _PngHandler)
    httpd.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*_self_signed(tmp_path))
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_an_untrusted_tls_certificate_is_refused_for_good(private_allowed, tls_server):
    with pytest.raises(FetchRefused) as caught:
        image_download(tls_server + "/a.png")

    assert caught.value.detail == "image URL: TLS certificate not trusted for '127.0.0.1'"


def test_proxy_variables_in_the_environment_are_ignored(private_allowed, image_server, monkeypatch):
    # A proxy would see (and could answer for) every photo URL; the fetcher never uses one.
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    image_server.routes["/a.png"] = Route(body=PNG)

    assert image_download(image_server.url("/a.png")).data == PNG


def test_a_gzip_content_encoding_is_not_inflated(private_allowed, image_server):
    # A gzip bomb stays its compressed size: the fetcher asks for identity and never
    # decompresses, so the bytes are simply not an image.
    bomb = gzip.compress(b"\0" * (50 * 1024 * 1024))
    image_server.routes["/bomb.png"] = Route(body=bomb, headers={"Content-Encoding": "gzip"})

    data = image_download(image_server.url("/bomb.png")).data

    assert data == bomb
    with pytest.raises(ImageRefused):
        image_normalise(data)
