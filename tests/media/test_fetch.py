"""The SSRF-safe photo download: addresses, schemes, ports, redirects, caps, timeouts."""

from __future__ import annotations

import pytest

from axero_idp import safe_fetch
from axero_idp.safe_fetch import FetchRefused
from media import fetching
from media.errors import ImageFetchUnavailable, ImageTooLarge
from media.fetching import image_download
from media.imaging import MAX_BYTES
from tests.media.conftest import Route, image_bytes

PNG = image_bytes("PNG")


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://127.0.0.1/a.png", "127.0.0.1"),
        ("http://localhost/a.png", "localhost"),
        ("http://[::1]/a.png", "::1"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("http://10.0.0.1/a.png", "10.0.0.1"),
        ("http://192.168.1.1/a.png", "192.168.1.1"),
        ("http://172.16.0.1/a.png", "172.16.0.1"),
        ("http://0x7f000001/a.png", "0x7f000001"),
        ("http://2130706433/a.png", "2130706433"),
        ("http://0177.0.0.1/a.png", "0177.0.0.1"),
        ("http://127.1/a.png", "127.1"),
        ("http://0.0.0.0/a.png", "0.0.0.0"),
        ("http://[::ffff:127.0.0.1]/a.png", "::ffff:127.0.0.1"),
        ("http://[::ffff:a9fe:a9fe]/a.png", "::ffff:a9fe:a9fe"),
        ("https://[fd00::1]/a.png", "fd00::1"),
        # IPv6 forms that carry an internal IPv4 address through a translator.
        ("http://[2002:7f00:1::]/a.png", "2002:7f00:1::"),  # 6to4 of 127.0.0.1
        ("http://[2002:a9fe:a9fe::1]/a.png", "2002:a9fe:a9fe::1"),  # 6to4 of 169.254.169.254
        ("http://[64:ff9b::a9fe:a9fe]/a.png", "64:ff9b::a9fe:a9fe"),  # NAT64
        ("http://[64:ff9b::10.0.0.1]/a.png", "64:ff9b::10.0.0.1"),  # NAT64
        ("http://[64:ff9b:1::a00:1]/a.png", "64:ff9b:1::a00:1"),  # NAT64 local-use
        ("http://[::127.0.0.1]/a.png", "::127.0.0.1"),  # IPv4-compatible
        ("http://[::ffff:0:a00:1]/a.png", "::ffff:0:a00:1"),  # IPv4-translated
        ("http://[fec0::1]/a.png", "fec0::1"),  # site-local
        ("http://LOCALHOST/a.png", "localhost"),
        ("http://0/a.png", "0"),
        ("http://[::]/a.png", "::"),
        ("http://[0:0:0:0:0:ffff:7f00:1]/a.png", "0:0:0:0:0:ffff:7f00:1"),
        ("http://127.0.0.1#@photos.example.com/a.png", "127.0.0.1"),  # fragment trick
    ],
)
def test_internal_addresses_are_refused(settings, url, host):
    settings.IMAGE_FETCH_ALLOW_PRIVATE_NETWORKS = False

    with pytest.raises(FetchRefused) as caught:
        image_download(url)

    assert caught.value.detail == f"image URL: {host!r} resolves to a non-public address"


@pytest.mark.parametrize(
    ("url", "detail"),
    [
        ("file:///etc/passwd", "image URL must be http or https"),
        ("ftp://photos.example.com/a.png", "image URL must be http or https"),
        ("gopher://photos.example.com/", "image URL must be http or https"),
        ("http:///a.png", "image URL has no host"),
        ("https://user:secret@photos.example.com/a.png", "image URL must not carry credentials"),
        ("http://photos.example.com@127.0.0.1/a.png", "image URL must not carry credentials"),
        ("http://127.0.0.1\\@photos.example.com/a.png", "image URL must not carry credentials"),
        ("https://photos.example.com:8443/a.png", "image URL: port 8443 is not allowed"),
        ("http://photos.example.com:22/a.png", "image URL: port 22 is not allowed"),
        ("https://photos.example.com:99999/a.png", "image URL has a bad port"),
    ],
)
def test_urls_outside_the_policy_are_refused_before_any_connection(settings, url, detail):
    settings.IMAGE_FETCH_ALLOW_PRIVATE_NETWORKS = False

    with pytest.raises(FetchRefused) as caught:
        image_download(url)

    assert caught.value.detail == detail


def test_the_fetch_connects_to_the_address_it_checked(settings, monkeypatch):
    """DNS rebinding: public for the check, internal a moment later."""
    import socket

    settings.IMAGE_FETCH_ALLOW_PRIVATE_NETWORKS = False
    answers = iter(["93.184.215.14", "127.0.0.1"])
    connected = []

    def fake_getaddrinfo(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    def fake_create_connection(address, timeout=None, *args, **kwargs):
        connected.append(address)
        raise OSError("unreachable in the test")

    monkeypatch.setattr(safe_fetch.socket, "getaddrinfo", fake_getaddrinfo)
    monkeypatch.setattr(safe_fetch.socket, "create_connection", fake_create_connection)

    with pytest.raises(ImageFetchUnavailable) as caught:
        image_download("https://photos.example.com/a.png")

    assert connected == [("93.184.215.14", 443)]
    assert caught.value.detail == "fetch failed: OSError"


def test_one_private_answer_among_public_ones_is_refused(settings, monkeypatch):
    import socket

    settings.IMAGE_FETCH_ALLOW_PRIVATE_NETWORKS = False

    def fake_getaddrinfo(host, port, *args, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", port)),
        ]

    monkeypatch.setattr(safe_fetch.socket, "getaddrinfo", fake_getaddrinfo)

    with pytest.raises(FetchRefused) as caught:
        image_download("https://photos.example.com/a.png")

    assert caught.value.detail == "image URL: 'photos.example.com' resolves to a non-public address"


def test_allowed_private_network_fetches_from_loopback(private_allowed, image_server):
    image_server.routes["/a.png"] = Route(body=PNG, headers={"Content-Type": "image/png"})

    assert image_download(image_server.url("/a.png")).data == PNG


def test_up_to_three_redirects_are_followed(private_allowed, image_server):
    routes = image_server.routes
    routes["/1"] = Route(status=301, headers={"Location": "/2"})
    routes["/2"] = Route(status=302, headers={"Location": image_server.url("/3")})
    routes["/3"] = Route(status=307, headers={"Location": "/a.png"})
    routes["/a.png"] = Route(body=PNG)

    assert image_download(image_server.url("/1")).data == PNG
    assert image_server.hits == ["/1", "/2", "/3", "/a.png"]


@pytest.mark.parametrize(
    ("location", "detail"),
    [
        ("/loop", "image URL: more than 3 redirects"),
        ("file:///etc/passwd", "image URL must be http or https"),
        ("http://user:pw@127.0.0.1/", "image URL must not carry credentials"),
    ],
)
def test_bad_redirects_are_refused(private_allowed, image_server, location, detail):
    image_server.routes["/loop"] = Route(status=302, headers={"Location": location})

    with pytest.raises(FetchRefused) as caught:
        image_download(image_server.url("/loop"))

    assert caught.value.detail == detail


@pytest.mark.parametrize(
    ("location", "host"),
    [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("http://10.0.0.1/a.png", "10.0.0.1"),
        ("http://[::1]/a.png", "::1"),
    ],
)
def test_a_redirect_to_a_private_address_is_refused_with_the_flag_off(
    settings, monkeypatch, image_server, location, host
):
    """The first hop (the test server) counts as public; the redirect's target is
    checked again and refused."""
    settings.IMAGE_FETCH_ALLOW_PRIVATE_NETWORKS = False
    monkeypatch.setattr(fetching, "image_fetch_policy", _policy_with_any_port(fetching))
    real = safe_fetch._is_public
    monkeypatch.setattr(safe_fetch, "_is_public", lambda a: a == "127.0.0.1" or real(a))
    image_server.routes["/moved"] = Route(status=302, headers={"Location": location})

    with pytest.raises(FetchRefused) as caught:
        image_download(image_server.url("/moved"))

    assert caught.value.detail == f"image URL: {host!r} resolves to a non-public address"
    assert image_server.hits == ["/moved"]


def _policy_with_any_port(module):
    import dataclasses

    original = module.image_fetch_policy

    def policy():
        return dataclasses.replace(original(), ports=None)

    return policy


@pytest.mark.parametrize(
    ("route", "error", "detail"),
    [
        (Route(status=404), FetchRefused, "image URL answered HTTP 404"),
        (Route(status=403), FetchRefused, "image URL answered HTTP 403"),
        (Route(status=302), FetchRefused, "image URL answered HTTP 302 without a Location"),
        (Route(status=503), ImageFetchUnavailable, "image URL answered HTTP 503"),
        (Route(body=b"\0" * (MAX_BYTES + 1)), ImageTooLarge, "larger than 5 MB"),
        (
            Route(body=b"\0" * (MAX_BYTES + 1), content_length=False),
            ImageTooLarge,
            "larger than 5 MB",
        ),
    ],
    ids=["404", "403", "302-no-location", "503", "declared-too-large", "streamed-too-large"],
)
def test_answers_are_classified(private_allowed, image_server, route, error, detail):
    image_server.routes["/x"] = route

    with pytest.raises(error) as caught:
        image_download(image_server.url("/x"))

    assert caught.value.detail == detail


def test_a_server_that_does_not_answer_times_out(private_allowed, image_server, monkeypatch):
    monkeypatch.setattr(fetching, "READ_TIMEOUT", 0.3)
    image_server.routes["/slow"] = Route(body=PNG, delay=2)

    with pytest.raises(ImageFetchUnavailable) as caught:
        image_download(image_server.url("/slow"))

    assert caught.value.detail == "fetch failed: TimeoutError"


def test_a_trickling_server_hits_the_total_deadline(
    settings, private_allowed, image_server, monkeypatch
):
    monkeypatch.setattr(fetching, "READ_TIMEOUT", 1.0)
    settings.IMAGE_FETCH_DEADLINE_SECONDS = 0.6
    image_server.routes["/drip"] = Route(body=PNG, trickle=0.05)

    with pytest.raises(ImageFetchUnavailable) as caught:
        image_download(image_server.url("/drip"))

    assert caught.value.detail == "image URL: no complete answer within 0.6 s"


def test_a_server_trickling_its_headers_hits_the_total_deadline(
    settings, private_allowed, monkeypatch
):
    """Each byte arrives well within the read timeout; only the deadline stops it."""
    import socket
    import threading
    import time

    monkeypatch.setattr(fetching, "READ_TIMEOUT", 2.0)
    settings.IMAGE_FETCH_DEADLINE_SECONDS = 0.8
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def trickle():
        conn, _ = listener.accept()
        with conn:
            try:
                for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 200:
                    conn.sendall(bytes([byte]))
                    time.sleep(0.05)
            except OSError:
                pass

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    started = time.monotonic()

    with pytest.raises(ImageFetchUnavailable) as caught:
        image_download(f"http://127.0.0.1:{port}/slow.png")

    assert caught.value.detail == "image URL: no complete answer within 0.8 s"
    assert time.monotonic() - started < 2.0
    listener.close()


@pytest.mark.parametrize("address", ["64:ff9b::808:808", "2002:808:808::1", "2606:4700::1111"])
def test_ipv6_addresses_reaching_public_ipv4_or_public_ipv6_are_connected_to(
    settings, monkeypatch, address
):
    import socket

    settings.IMAGE_FETCH_ALLOW_PRIVATE_NETWORKS = False
    connected = []

    def fake_getaddrinfo(host, port, *args, **kwargs):
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))]

    def fake_create_connection(target, timeout=None, *args, **kwargs):
        connected.append(target)
        raise OSError("no route in tests")

    monkeypatch.setattr(safe_fetch.socket, "getaddrinfo", fake_getaddrinfo)
    monkeypatch.setattr(safe_fetch.socket, "create_connection", fake_create_connection)

    with pytest.raises(ImageFetchUnavailable):
        image_download("https://photos.example.com/a.png")

    assert connected == [(address, 443)]


@pytest.mark.parametrize(
    ("written", "requested"),
    [("/fotos/josé.png", "/fotos/jos%C3%A9.png"), ("/my photo.png", "/my%20photo.png")],
)
def test_a_path_with_spaces_or_non_ascii_letters_is_sent_percent_encoded(
    private_allowed, image_server, written, requested
):
    image_server.routes[requested] = Route(body=PNG)

    assert image_download(image_server.url(written)).data == PNG
    assert image_server.hits == [requested]


def test_an_already_encoded_path_is_sent_as_it_is(private_allowed, image_server):
    image_server.routes["/a%2Fb.png?size=96&x=%20"] = Route(body=PNG)

    assert image_download(image_server.url("/a%2Fb.png?size=96&x=%20")).data == PNG


def test_localhost_with_a_trailing_dot_is_refused(settings):
    settings.IMAGE_FETCH_ALLOW_PRIVATE_NETWORKS = False

    with pytest.raises(FetchRefused) as caught:
        image_download("http://localhost./a.png")

    # Whether the resolver answers for "localhost." or not, no connection is made.
    assert caught.value.detail in (
        "image URL: 'localhost.' resolves to a non-public address",
        "image URL: cannot resolve 'localhost.'",
    )
