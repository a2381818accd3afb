"""Broken image files are refused as "not a valid image" on every path, never a 500
(issue 8, finding 17: malformed EXIF crashed Pillow's orientation step with TypeError
and struct.error), plus a bounded, seeded mutation fuzz of the whole pipeline."""

from __future__ import annotations

import random
import warnings

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from media.errors import ImageRefused
from media.imaging import NormalisedImage, image_normalise
from media.models import ImageSource, ProfileImage
from media.services import photo_fetch_run, profile_image_store
from tests.factories import UserFactory
from tests.media.conftest import (
    MALFORMED_EXIF,
    Route,
    exif_with_gps_and_orientation,
    image_bytes,
    malformed_exif_jpeg,
)
from users.services import Actor

KINDS = sorted(MALFORMED_EXIF)
UNDECODABLE = {"error": "invalid_image", "detail": "could not be decoded"}


@pytest.fixture
def subject(db, media_root):
    user = UserFactory()
    profile = profile_image_store(
        user=user,
        data=image_bytes("PNG", size=(30, 30)),
        source=ImageSource.ADMIN,
        actor=Actor.system("tests"),
    )
    return user, profile


def _file(data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile("me.jpg", data, content_type="image/jpeg")


def _unchanged(user, before) -> bool:
    after = ProfileImage.objects.get(user=user)
    return (after.storage_name, after.sha256) == (before.storage_name, before.sha256)


@pytest.mark.parametrize("kind", KINDS)
def test_malformed_exif_is_refused_by_the_pipeline(kind):
    with pytest.raises(ImageRefused) as caught:
        image_normalise(malformed_exif_jpeg(kind))

    assert (caught.value.code, caught.value.detail) == ("invalid_image", "could not be decoded")


@pytest.mark.parametrize("kind", KINDS)
def test_malformed_exif_through_the_api_is_a_400(client, provisioning_token, subject, kind):
    user, before = subject

    response = client.post(
        f"/api/v1/users/{user.pk}/image/",
        {"image": _file(malformed_exif_jpeg(kind))},
        HTTP_AUTHORIZATION=f"Bearer {provisioning_token}",
    )

    assert (response.status_code, response.json()) == (400, UNDECODABLE)
    assert _unchanged(user, before)


@pytest.mark.parametrize("kind", KINDS)
def test_malformed_exif_on_the_self_service_page_is_a_400(client, subject, kind):
    user, before = subject
    client.force_login(user)

    response = client.post("/account/image/", {"image": _file(malformed_exif_jpeg(kind))})

    assert response.status_code == 400
    assert "could not be decoded" in response.content.decode()
    assert _unchanged(user, before)


@pytest.mark.parametrize("kind", KINDS)
def test_malformed_exif_in_admin_is_a_400(admin_client, subject, kind):
    user, before = subject

    response = admin_client.post(
        f"/admin/media/profileimage/user/{user.pk}/", {"image": _file(malformed_exif_jpeg(kind))}
    )

    assert response.status_code == 400
    assert '<li class="error">Could not be decoded</li>' in response.content.decode()
    assert _unchanged(user, before)


@pytest.mark.parametrize("kind", KINDS)
def test_a_fetched_photo_with_malformed_exif_is_a_final_refusal(
    private_allowed, image_server, subject, kind
):
    user, before = subject
    image_server.routes["/p.jpg"] = Route(body=malformed_exif_jpeg(kind))
    user.photo_url = image_server.url("/p.jpg")
    user.save(update_fields=["photo_url"])

    assert photo_fetch_run(user_id=user.pk, url=user.photo_url) == "refused"

    assert _unchanged(user, before)
    after = ProfileImage.objects.get(user=user)
    assert after.last_failure_reason == "could not be decoded"


# ---- mutation fuzz --------------------------------------------------------------------

SEED = 20261206
# (base, cases, how far into the file bytes are flipped): the parsers read the headers,
# so mutations go there; the EXIF base gets most cases, confined to its APP1 segment.
EXIF_SPAN_END = b"\xff\xdb"  # the quantisation table that follows the EXIF segment


def _bases() -> list[tuple[str, bytes, int, int]]:
    exif = image_bytes("JPEG", size=(24, 16), exif=exif_with_gps_and_orientation(6))
    return [
        ("jpeg", image_bytes("JPEG", size=(24, 16)), 150, 400),
        ("png", image_bytes("PNG", size=(24, 16)), 150, 400),
        ("gif", image_bytes("GIF", size=(24, 16)), 150, 400),
        ("jpeg-exif-orientation", exif, 600, exif.index(EXIF_SPAN_END)),
    ]


def _mutate(data: bytes, rng: random.Random, span: int) -> bytes:
    """Flip one to four bytes among the first `span`, or (one case in five) truncate."""
    out = bytearray(data)
    if rng.random() < 0.2:
        return bytes(out[: rng.randrange(1, len(out))])
    for _ in range(rng.randint(1, 4)):
        out[rng.randrange(min(len(out), span))] = rng.randrange(256)
    return bytes(out)


def test_mutated_images_are_stored_or_refused_never_another_exception():
    rng = random.Random(SEED)
    outcomes = {"stored": 0, "refused": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow warns about the corrupt EXIF it reads
        for name, base, cases, span in _bases():
            for case in range(cases):
                try:
                    result = image_normalise(_mutate(base, rng, span))
                except ImageRefused:
                    outcomes["refused"] += 1
                    continue
                except Exception as exc:  # the finding: anything else is a 500
                    pytest.fail(f"{name} case {case}: {type(exc).__name__}: {exc}")
                assert isinstance(result, NormalisedImage)
                outcomes["stored"] += 1

    # Both outcomes occur, so the fuzz is neither all-garbage nor all-harmless.
    assert outcomes["stored"] > 100 and outcomes["refused"] > 100, outcomes
