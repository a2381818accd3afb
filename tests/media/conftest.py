"""Fixtures for the image pipeline: a real HTTP server on loopback, image builders,
MEDIA_ROOT in a temporary directory, Celery in-process."""

from __future__ import annotations

import http.server
import io
import struct
import threading
import time
import zlib
from dataclasses import dataclass, field

import pytest
from PIL import Image

from axero_idp.celery import app as celery_app


def image_bytes(fmt: str, size=(64, 48), color=(200, 30, 30), **save) -> bytes:
    out = io.BytesIO()
    mode = "RGB" if fmt != "GIF" else "P"
    image = Image.new("RGB", size, color)
    if mode == "P":
        image = image.convert("P")
    image.save(out, fmt, **save)
    return out.getvalue()


def two_tone_jpeg(size=(80, 40), **save) -> bytes:
    """Left half red, right half blue: orientation is visible in the pixels."""
    image = Image.new("RGB", size, (255, 0, 0))
    image.paste((0, 0, 255), (size[0] // 2, 0, size[0], size[1]))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95, **save)
    return out.getvalue()


def exif_with_gps_and_orientation(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "PhoneMaker"
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)}
    return exif


def _tiff_ifd(entries: list[tuple[int, int, int, bytes]]) -> bytes:
    """A little-endian TIFF header and one IFD of (tag, type, count, 4 value bytes)."""
    out = b"II" + struct.pack("<HIH", 42, 8, len(entries))
    for tag, kind, count, value in entries:
        out += struct.pack("<HHI", tag, kind, count) + value
    return out + struct.pack("<I", 0)


# Orientation 6 (rotate) makes Pillow re-serialise the EXIF, which then meets a tag
# whose value does not fit its declared type: ImageWidth as text fails struct.pack
# (struct.error), XResolution as text fails abs() (TypeError).
MALFORMED_EXIF: dict[str, list[tuple[int, int, int, bytes]]] = {
    "width-as-text": [(0x0112, 3, 1, b"\x06\0\0\0"), (0x0100, 2, 4, b"abc\0")],
    "resolution-as-text": [(0x0112, 3, 1, b"\x06\0\0\0"), (0x011A, 2, 4, b"abc\0")],
}


def malformed_exif_jpeg(kind: str) -> bytes:
    """A decodable JPEG whose EXIF (APP1) segment crashes Pillow's orientation step."""
    segment = b"Exif\0\0" + _tiff_ifd(MALFORMED_EXIF[kind])
    app1 = b"\xff\xe1" + struct.pack(">H", len(segment) + 2) + segment
    base = two_tone_jpeg()
    return base[:2] + app1 + base[2:]


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int = 40000, height: int = 40000) -> bytes:
    """A tiny PNG whose header claims huge dimensions."""
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + _png_chunk(b"IDAT", zlib.compress(b"\0" * 1024))
        + _png_chunk(b"IEND", b"")
    )


def gif_html_polyglot() -> bytes:
    """A valid GIF with an HTML document riding after it."""
    return image_bytes("GIF") + b"<html><script>alert(document.cookie)</script></html>"


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # before answering
    trickle: float = 0.0  # pause between bytes of the body
    content_length: bool = True


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, Route] = {}
    hits: list[str] = []

    def do_GET(self):
        self.hits.append(self.path)
        route = self.routes.get(self.path, Route(status=404))
        if route.delay:
            time.sleep(route.delay)
        self.send_response(route.status)
        for name, value in route.headers.items():
            self.send_header(name, value)
        if route.content_length:
            self.send_header("Content-Length", str(len(route.body)))
        else:
            self.send_header("Connection", "close")
        self.end_headers()
        try:
            if route.trickle:
                for index in range(len(route.body)):
                    self.wfile.write(route.body[index : index + 1])
                    self.wfile.flush()
                    time.sleep(route.trickle)
            else:
                self.wfile.write(route.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as it should
        if not route.content_length:
            self.close_connection = True

    def log_message(self, *args):
        pass


@dataclass
class ImageServer:
    base: str
    port: int
    routes: dict[str, Route]
    hits: list[str]

    def url(self, path: str) -> str:
        return self.base + path


@pytest.fixture
def image_server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    _Handler.routes = {}
    _Handler.hits = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    port = httpd.server_address[1]
    yield ImageServer(f"http://127.0.0.1:{port}", port, _Handler.routes, _Handler.hits)
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


@pytest.fixture
def private_allowed(settings):
    settings.IMAGE_FETCH_ALLOW_PRIVATE_NETWORKS = True


@pytest.fixture
def eager_celery():
    """Tasks run in-process, as under `make run`."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous
