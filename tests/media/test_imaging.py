"""What Pillow decides an image is, and how it is re-encoded."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from media.errors import ImageRefused, ImageTooLarge, ImageUnsupported
from media.imaging import MAX_BYTES, image_normalise
from tests.media.conftest import (
    exif_with_gps_and_orientation,
    gif_html_polyglot,
    image_bytes,
    png_bomb,
    two_tone_jpeg,
)


def _reopen(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("GIF", "image/gif")],
)
def test_each_accepted_format_stays_itself(fmt, content_type):
    result = image_normalise(image_bytes(fmt, size=(64, 48)))

    assert (result.format, result.content_type) == (fmt, content_type)
    assert (result.width, result.height) == (64, 48)
    assert _reopen(result.data).format == fmt


def test_large_image_is_bounded_to_1024_keeping_the_aspect_ratio():
    result = image_normalise(image_bytes("PNG", size=(3000, 1500)))

    assert (result.width, result.height) == (1024, 512)
    assert _reopen(result.data).size == (1024, 512)


def test_jpeg_is_reencoded_progressive():
    result = image_normalise(image_bytes("JPEG", size=(200, 200)))

    assert _reopen(result.data).info.get("progressive") == 1


def test_exif_gps_and_camera_data_are_stripped():
    original = image_bytes("JPEG", exif=exif_with_gps_and_orientation(1), icc_profile=b"\0" * 64)
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)  # the input has GPS

    stored = _reopen(image_normalise(original).data)

    assert dict(stored.getexif()) == {}
    assert "exif" not in stored.info and "icc_profile" not in stored.info


def test_png_text_chunks_are_stripped():
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Author", "Jane Doe, 12 Secret Street")
    stored = image_normalise(image_bytes("PNG", pnginfo=info)).data

    assert b"Secret Street" not in stored
    assert _reopen(stored).info == {}


def test_exif_orientation_is_applied_to_the_pixels():
    # Orientation 6: the camera was turned; viewers rotate 90° clockwise.
    original = two_tone_jpeg(size=(80, 40), exif=exif_with_gps_and_orientation(6))

    stored = _reopen(image_normalise(original).data).convert("RGB")

    assert stored.size == (40, 80)
    top, bottom = stored.getpixel((20, 5)), stored.getpixel((20, 75))
    assert top[0] > 200 and top[2] < 60  # red, the image's left half, is now on top
    assert bottom[2] > 200 and bottom[0] < 60


def test_gif_keeps_only_its_first_frame():
    frames = [Image.new("RGB", (30, 30), c).convert("P") for c in ("red", "green", "blue")]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)

    stored = _reopen(image_normalise(out.getvalue()).data)

    assert getattr(stored, "n_frames", 1) == 1
    assert stored.convert("RGB").getpixel((5, 5))[0] > 200


def test_html_gif_polyglot_is_reencoded_without_the_html():
    result = image_normalise(gif_html_polyglot())

    assert result.format == "GIF"
    assert b"<script" not in result.data and b"<html" not in result.data


@pytest.mark.parametrize(
    ("data", "error", "detail", "status"),
    [
        (b"x" * (MAX_BYTES + 1), ImageTooLarge, "larger than 5 MB", 413),
        (b"<html>not an image</html>", ImageUnsupported, "not a JPEG, PNG or GIF image", 415),
        (b"", ImageUnsupported, "not a JPEG, PNG or GIF image", 415),
        (image_bytes("BMP"), ImageUnsupported, "not a JPEG, PNG or GIF image", 415),
        (image_bytes("WEBP"), ImageUnsupported, "not a JPEG, PNG or GIF image", 415),
        (png_bomb(), ImageRefused, "image dimensions 40000x40000 exceed the limit", 400),
        (png_bomb(9000, 9000), ImageRefused, "image dimensions 9000x9000 exceed the limit", 400),
        (image_bytes("PNG")[:70], ImageRefused, "could not be decoded", 400),
        (image_bytes("JPEG")[:300], ImageRefused, "could not be decoded", 400),
    ],
    ids=[
        "too-large",
        "html",
        "empty",
        "bmp",
        "webp",
        "bomb",
        "too-many-pixels",
        "png-cut",
        "jpeg-cut",
    ],
)
def test_refusals_name_their_reason(data, error, detail, status):
    with pytest.raises(error) as caught:
        image_normalise(data)

    assert caught.value.detail == detail
    assert caught.value.http_status == status


def test_exactly_5_mb_is_accepted():
    jpeg = image_bytes("JPEG")
    padded = jpeg + b"\0" * (MAX_BYTES - len(jpeg))  # trailing bytes after the image's end

    assert len(padded) == MAX_BYTES
    assert image_normalise(padded).format == "JPEG"


def test_png_icc_profile_and_gif_comment_are_stripped():
    # Pillow would copy both from the decoded image into the new file by itself.
    png = image_normalise(image_bytes("PNG", icc_profile=b"ICC-profile-naming-a-device" * 4))
    gif = image_normalise(image_bytes("GIF", comment=b"taken at 12 Secret Street"))

    assert "icc_profile" not in _reopen(png.data).info
    assert b"Secret Street" not in gif.data
    assert "comment" not in _reopen(gif.data).info


def test_a_jpeg_with_an_mp_index_is_stored_as_a_jpeg_of_its_first_picture():
    # Phones write JPEGs with an MP index (a second picture, a depth map): Pillow names
    # them "MPO". They are JPEGs; the first picture is the photo.
    out = io.BytesIO()
    first = Image.new("RGB", (40, 30), (255, 0, 0))
    first.save(out, "MPO", save_all=True, append_images=[Image.new("RGB", (40, 30), (0, 255, 0))])

    result = image_normalise(out.getvalue())

    assert (result.format, result.content_type, result.width, result.height) == (
        "JPEG",
        "image/jpeg",
        40,
        30,
    )
    reopened = _reopen(result.data)
    assert reopened.format == "JPEG"
    red, green, _blue = reopened.getpixel((20, 15))
    assert red > 200 and green < 60


@pytest.mark.parametrize(
    ("mode", "value", "expected"), [("I;16", 30000, 117), ("I;16", 65535, 255), ("I;16", 0, 0)]
)
def test_a_16_bit_grey_png_is_scaled_to_8_bits_not_clipped_to_white(mode, value, expected):
    out = io.BytesIO()
    Image.new(mode, (20, 20), value).save(out, "PNG")

    result = image_normalise(out.getvalue())

    reopened = _reopen(result.data)
    assert (result.format, reopened.mode) == ("PNG", "L")
    assert reopened.getpixel((10, 10)) == expected


def test_cmyk_jpeg_becomes_rgb_and_palette_transparency_survives():
    cmyk = io.BytesIO()
    Image.new("CMYK", (20, 20), (0, 255, 255, 0)).save(cmyk, "JPEG")
    palette = Image.new("P", (20, 20), 0)
    palette.putpalette([255, 0, 0, 0, 255, 0])
    transparent = io.BytesIO()
    palette.save(transparent, "PNG", transparency=0)

    rgb = _reopen(image_normalise(cmyk.getvalue()).data)
    rgba = _reopen(image_normalise(transparent.getvalue()).data)

    assert rgb.mode == "RGB" and rgb.getpixel((5, 5))[0] > 200
    assert rgba.mode == "RGBA" and rgba.getpixel((5, 5))[3] == 0


def test_png_and_gif_canvases_are_capped_lower_than_jpeg_photos():
    # A PNG or GIF decodes at full size: a tiny file claiming a 20 megapixel canvas
    # would cost hundreds of MB. A JPEG decodes scaled down, so a 20 MP photo is fine.
    flat_png = io.BytesIO()
    Image.new("L", (5000, 4000)).save(flat_png, "PNG")
    flat_gif = io.BytesIO()
    Image.new("P", (5000, 4000)).save(flat_gif, "GIF")

    for data in (flat_png.getvalue(), flat_gif.getvalue()):
        with pytest.raises(ImageRefused) as caught:
            image_normalise(data)
        assert caught.value.detail == "image dimensions 5000x4000 exceed the limit"
    photo = image_normalise(image_bytes("JPEG", size=(5000, 4000)))
    assert (photo.format, photo.width, photo.height) == ("JPEG", 1024, 819)
    assert image_normalise(image_bytes("PNG", size=(4096, 4096))).width == 1024


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "LA"])
def test_png_exif_is_applied_and_stripped_in_every_mode(mode):
    out = io.BytesIO()
    Image.new(mode, (80, 40)).save(out, "PNG", exif=exif_with_gps_and_orientation(6))

    result = image_normalise(out.getvalue())

    reopened = _reopen(result.data)
    assert reopened.size == (40, 80)
    assert dict(reopened.getexif()) == {}
    assert b"PhoneMaker" not in result.data


@pytest.mark.parametrize(("mode", "key"), [("RGB", (0, 255, 0)), ("L", 7)])
def test_a_png_transparent_colour_key_stays_transparent(mode, key):
    image = Image.new(mode, (20, 20), key)
    image.paste((255, 0, 0) if mode == "RGB" else 200, (0, 0, 10, 20))
    out = io.BytesIO()
    image.save(out, "PNG", transparency=key)

    reopened = _reopen(image_normalise(out.getvalue()).data)

    assert reopened.mode == "RGBA"
    assert reopened.getpixel((15, 10))[3] == 0  # the keyed colour
    assert reopened.getpixel((5, 10))[3] == 255
