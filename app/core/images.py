"""Uploaded photos, checked by content and re-encoded before anything is stored (issue 14).

Every feature that stores an image a user sent (incident photos, wish photos) passes it through
:func:`clean_image`, written once:

* the file name and the declared type are never trusted: Pillow must read the bytes as a JPEG, PNG
  or WebP image (an executable renamed ``.jpg`` is 415), within a pixel budget (422);
* the pixels are re-encoded into a new file: EXIF (GPS position, camera, time), XMP, comments and any
  other metadata a phone puts in a photo are not copied, after the EXIF orientation has been applied
  to the pixels (:func:`PIL.ImageOps.exif_transpose`), so the photo still shows upright;
* the stored file's type is the one Pillow found, and is served as such (:func:`content_type_of`),
  with ``X-Content-Type-Options: nosniff`` on every answer (:mod:`app.web.security`).
"""
import io
from dataclasses import dataclass
from pathlib import PurePath

from PIL import Image, ImageOps, UnidentifiedImageError

from app.core.errors import ApiError

FORMATS = {"JPEG": ("image/jpeg", ".jpg"), "PNG": ("image/png", ".png"), "WEBP": ("image/webp", ".webp")}
MAX_PIXELS = 40_000_000
MAX_SIDE = 4096


@dataclass(frozen=True)
class CleanImage:
    """A re-encoded image: its bytes, type, file extension and size, and optionally a JPEG thumbnail."""
    data: bytes
    content_type: str
    extension: str
    width: int
    height: int
    thumbnail: bytes | None = None


def _open(data: bytes, field: str) -> Image.Image:
    if not data:
        raise ApiError(422, f"the {field} is empty", {field: "empty file"})
    try:
        with Image.open(io.BytesIO(data)) as probe:
            fmt = probe.format
            if fmt not in FORMATS:
                raise ApiError(415, f"{field}s must be JPEG, PNG or WebP, not {fmt}", {field: "unsupported type"})
            if probe.width * probe.height > MAX_PIXELS:
                raise ApiError(422, f"the {field} has too many pixels", {field: "too large"})
            probe.verify()
        img = Image.open(io.BytesIO(data))
        img.load()
    except ApiError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ApiError(415, "the file is not a readable JPEG, PNG or WebP image", {field: "not an image"}) from None
    return img


def _encode(img: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    # Nothing of the original's metadata is passed on: only the pixels are written.
    img.save(out, format=fmt, **({"quality": 88} if fmt in ("JPEG", "WEBP") else {}))
    return out.getvalue()


def clean_image(data: bytes, field: str = "photo", max_side: int = MAX_SIDE,
                thumbnail: tuple[int, int] | None = None) -> CleanImage:
    """``data`` (an uploaded file) as a re-encoded image without metadata, upright, at most ``max_side``
    pixels on a side; 415 when it is not a JPEG, PNG or WebP image, 422 when empty or too large."""
    original = _open(data, field)
    fmt = original.format
    content_type, extension = FORMATS[fmt]
    img = ImageOps.exif_transpose(original)
    if img.mode not in ("RGB", "RGBA", "L"):
        img = img.convert("RGB")
    if fmt == "JPEG" and img.mode == "RGBA":
        img = img.convert("RGB")
    img.thumbnail((max_side, max_side))
    img.info.clear()                 # EXIF, XMP, ICC, comments: not ours to keep
    thumb = None
    if thumbnail is not None:
        small = img.copy()
        small.thumbnail(thumbnail)
        thumb = _encode(small.convert("RGB") if small.mode == "RGBA" else small, "JPEG")
    return CleanImage(_encode(img, fmt), content_type, extension, img.width, img.height, thumb)


def content_type_of(path: str) -> str:
    """The type of a stored image by the extension :func:`clean_image` gave it."""
    suffix = PurePath(path).suffix.lower()
    return next((ctype for ctype, ext in FORMATS.values() if ext == suffix), "application/octet-stream")
