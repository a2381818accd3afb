"""Deciding what an image is, and re-encoding it clean. Pillow decides; nothing here
trusts a file name, a Content-Type or magic bytes read by hand.

Only Pillow's JPEG, PNG and GIF decoders are ever tried. Dimensions are checked from
the header before any pixel is decoded; Pillow's decompression-bomb warning is an
error; the image is verified, reopened and fully decoded; EXIF orientation is applied;
every piece of metadata (EXIF with GPS, ICC profiles, text chunks, comments) is
dropped by re-encoding the pixels alone, at most MAX_SIDE pixels on the longest side.
GIFs keep their first frame only: avatars are small and still, and decoding an
animation's frames is where GIF bombs hide.
"""

from __future__ import annotations

import hashlib
import io
import logging
import warnings
from dataclasses import dataclass
from typing import Final

from PIL import Image, ImageOps, UnidentifiedImageError
from PIL.GifImagePlugin import GifImageFile
from PIL.JpegImagePlugin import JpegImageFile
from PIL.PngImagePlugin import PngImageFile

from media.errors import ImageRefused, ImageTooLarge, ImageUnsupported

logger = logging.getLogger(__name__)

MAX_BYTES: Final = 5 * 1024 * 1024
MAX_SIDE: Final = 1024  # longest side of the stored image
MAX_SOURCE_SIDE: Final = 16_384
MAX_SOURCE_PIXELS: Final = 40_000_000  # 40 megapixels: a large phone photo fits
# PNG and GIF decode at full size (a JPEG decodes scaled down, see draft()), and a tiny
# file can claim a huge flat canvas: 40 megapixels of RGBA took 330 MB and a second
# from a 170 KB upload. 16 megapixels (a 5K screenshot fits) keeps that near 100 MB.
MAX_LOSSLESS_PIXELS: Final = 4096 * 4096
JPEG_QUALITY: Final = 85
FORMATS: Final = ("JPEG", "PNG", "GIF")
CONTENT_TYPES: Final = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif"}
EXTENSIONS: Final = {"JPEG": "jpg", "PNG": "png", "GIF": "gif"}

NOT_AN_IMAGE: Final = "not a JPEG, PNG or GIF image"
TOO_LARGE: Final = "larger than 5 MB"
UNDECODABLE: Final = "could not be decoded"


@dataclass(frozen=True)
class NormalisedImage:
    data: bytes
    format: str  # JPEG, PNG or GIF
    width: int
    height: int
    sha256: str

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.format]


def _header_size(data: bytes) -> tuple[int, int] | None:
    """The size a header claims, read by the format's plugin without Image.open's
    bomb check (which refuses before telling the size)."""
    for plugin in (PngImageFile, JpegImageFile, GifImageFile):
        try:
            return plugin(io.BytesIO(data)).size
        except Exception:  # noqa: S112 - not this format: try the next
            continue
    return None


def _dimensions_refusal(data: bytes) -> ImageRefused:
    size = _header_size(data)
    claimed = f"{size[0]}x{size[1]}" if size else "claimed by the header"
    return ImageRefused(f"image dimensions {claimed} exceed the limit")


def _open(data: bytes) -> Image.Image:
    try:
        return Image.open(io.BytesIO(data), formats=FORMATS)
    except UnidentifiedImageError as exc:
        raise ImageUnsupported(NOT_AN_IMAGE) from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _dimensions_refusal(data) from exc
    except Exception as exc:  # Pillow raises many types for a broken file
        raise _undecodable(exc) from exc


def _undecodable(exc: Exception) -> ImageRefused:
    """A broken file: Pillow's plugins raise OSError, ValueError, SyntaxError, TypeError,
    struct.error, IndexError, ... (malformed EXIF alone reaches most of them). Each is a
    refusal of the bytes; the type is logged so a real bug stays visible."""
    logger.info("image refused as undecodable: %s", type(exc).__name__)
    return ImageRefused(UNDECODABLE)


def _dimensions_check(image: Image.Image, fmt: str) -> None:
    width, height = image.size
    max_pixels = MAX_SOURCE_PIXELS if fmt == "JPEG" else MAX_LOSSLESS_PIXELS
    if (
        width <= 0
        or height <= 0
        or max(width, height) > MAX_SOURCE_SIDE
        or width * height > max_pixels
    ):
        raise ImageRefused(f"image dimensions {width}x{height} exceed the limit")


def _decoded(data: bytes) -> tuple[Image.Image, str]:
    """The fully decoded first frame and the sniffed format."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        probe = _open(data)
        # Pillow's JPEG opener answers "MPO" for a JPEG carrying an MP index (many phone
        # photos): it is a JPEG, and only its first picture is used.
        fmt = "JPEG" if probe.format == "MPO" else str(probe.format)
        if fmt not in FORMATS:
            raise ImageUnsupported(NOT_AN_IMAGE)
        _dimensions_check(probe, fmt)
        try:
            probe.verify()
        except Exception as exc:
            raise _undecodable(exc) from exc
        # verify() leaves the image unusable: open again to decode.
        image = _open(data)
        _dimensions_check(image, fmt)
        try:
            if fmt == "JPEG":
                # Let libjpeg scale down while decoding: a 6000 px photo decodes at 1/4.
                image.draft("RGB", (MAX_SIDE, MAX_SIDE))
            image.seek(0)
            image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _dimensions_refusal(data) from exc
        except Exception as exc:
            raise _undecodable(exc) from exc
    return image, fmt


def _clean_pixels(image: Image.Image, fmt: str) -> Image.Image:
    # In place: a transposed copy of an unrotated image would double the peak memory.
    ImageOps.exif_transpose(image, in_place=True)
    if image.mode.startswith("I"):
        # 16-bit grey PNG: scale to 8 bits (a plain convert clips everything above 255
        # to white).
        image = image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    if fmt == "JPEG":
        image = image.convert("L" if image.mode in ("L", "1") else "RGB")
    elif image.mode not in ("RGB", "RGBA", "L", "LA") or "transparency" in image.info:
        # Palette and odd modes become RGBA so transparency survives the resize; so do
        # RGB and grey PNGs with a transparent colour (tRNS), which clearing .info
        # would otherwise make opaque.
        image = image.convert("RGBA")
    image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    # Metadata rides in .info (exif, icc_profile, text chunks, comments); drop it all.
    image.info = {}
    return image


def _encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt == "JPEG":
        image.save(out, "JPEG", quality=JPEG_QUALITY, progressive=True, optimize=True)
    elif fmt == "PNG":
        image.save(out, "PNG")  # optimize=True costs 5x the time for ~6 % smaller files
    else:
        image.save(out, "GIF", optimize=True)
    return out.getvalue()


def image_normalise(data: bytes) -> NormalisedImage:
    """Validate bytes as a JPEG, PNG or GIF and re-encode them clean and bounded.

    Raises ImageTooLarge (> 5 MB), ImageUnsupported (not one of the three formats) or
    ImageRefused (too many pixels, broken, undecodable).
    """
    if len(data) > MAX_BYTES:
        raise ImageTooLarge(TOO_LARGE)
    if not data:
        raise ImageUnsupported(NOT_AN_IMAGE)
    image, fmt = _decoded(data)
    try:
        # EXIF is parsed here (orientation) and re-serialised by Pillow when it rotates.
        clean = _clean_pixels(image, fmt)
        encoded = _encode(clean, fmt)
    except Exception as exc:
        raise _undecodable(exc) from exc
    return NormalisedImage(
        data=encoded,
        format=fmt,
        width=clean.width,
        height=clean.height,
        sha256=hashlib.sha256(encoded).hexdigest(),
    )
