"""Incident photos: checked by content (Pillow), re-encoded, thumbnailed, stored under MEDIA_ROOT.

The file name a client sends is never trusted: an executable renamed ``.jpg``
is refused because Pillow cannot read it as an image. Images are re-encoded,
which also drops EXIF (phones put GPS and device data there).
"""
import hashlib
import io
import os
import secrets
from pathlib import Path

from flask import current_app
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import func, select

from app.audit.services import record
from app.auth.policy import Scope
from app.core.errors import ApiError
from app.core.extensions import db
from app.core.media import write_files
from app.incidents.models import Photo
from app.incidents.services.records import load

FORMATS = {"JPEG": ("image/jpeg", ".jpg"), "PNG": ("image/png", ".png"), "WEBP": ("image/webp", ".webp")}
MAX_PIXELS = 40_000_000
MAX_SIDE = 4096
THUMB = (320, 320)
MAX_PHOTOS = 20


def media_root() -> Path:
    """Where photos live (``MEDIA_ROOT``), created on first use."""
    root = Path(current_app.config["MEDIA_ROOT"]) / "incidents"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _open_image(data: bytes) -> Image.Image:
    if not data:
        raise ApiError(422, "the photo is empty", {"photo": "empty file"})
    try:
        with Image.open(io.BytesIO(data)) as probe:
            fmt = probe.format
            if fmt not in FORMATS:
                raise ApiError(415, f"photos must be JPEG, PNG or WebP, not {fmt}", {"photo": "unsupported type"})
            if probe.width * probe.height > MAX_PIXELS:
                raise ApiError(422, "the photo has too many pixels", {"photo": "too large"})
            probe.verify()
        img = Image.open(io.BytesIO(data))
        img.load()
    except ApiError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ApiError(415, "the file is not a readable JPEG, PNG or WebP image", {"photo": "not an image"}) from None
    return img


def add_photo(incident_id: int, data: bytes, user, scope: Scope, transition_id: int | None = None) -> Photo:
    """Store one photo of an incident the user may see; returns the row."""
    incident = load(incident_id, scope)
    count = db.session.scalar(select(func.count()).select_from(Photo).where(Photo.incident_id == incident.id))
    if count >= MAX_PHOTOS:
        raise ApiError(409, f"an incident keeps at most {MAX_PHOTOS} photos")
    img = _open_image(data)
    fmt = img.format
    content_type, ext = FORMATS[fmt]
    img = ImageOps.exif_transpose(img)
    if img.mode not in ("RGB", "RGBA", "L"):
        img = img.convert("RGB")
    if fmt == "JPEG" and img.mode == "RGBA":
        img = img.convert("RGB")
    img.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO()
    img.save(out, format=fmt, **({"quality": 88} if fmt in ("JPEG", "WEBP") else {}))
    thumb = img.copy()
    thumb.thumbnail(THUMB)
    tout = io.BytesIO()
    (thumb.convert("RGB") if thumb.mode == "RGBA" else thumb).save(tout, format="JPEG", quality=80)
    name = f"{incident.id}/{secrets.token_hex(8)}"
    root = media_root()
    path, tpath = root / f"{name}{ext}", root / f"{name}.thumb.jpg"
    write_files({path: out.getvalue(), tpath: tout.getvalue()})       # both or neither; 507 when the disk is full
    photo = Photo(incident_id=incident.id, transition_id=transition_id, path=f"{name}{ext}",
                  thumb_path=f"{name}.thumb.jpg", content_type=content_type, width=img.width, height=img.height,
                  bytes=len(out.getvalue()), sha256=hashlib.sha256(data).hexdigest(),
                  uploaded_by=getattr(user, "id", None))
    db.session.add(photo)
    try:
        db.session.flush()
        record("insert", "incident_photos", photo.id, after={"incident_id": incident.id, "path": photo.path,
                                                               "bytes": photo.bytes})
        db.session.commit()
    except Exception:
        db.session.rollback()
        for p in (path, tpath):
            p.unlink(missing_ok=True)
        raise
    return photo


def photo_file(incident_id: int, photo_id: int, scope: Scope, thumb: bool = False) -> tuple[Path, str]:
    """The file of a photo of an incident the user may see."""
    incident = load(incident_id, scope)
    photo = db.session.get(Photo, photo_id)
    if photo is None or photo.incident_id != incident.id:
        raise ApiError(404, "no such photo")
    rel = photo.thumb_path if thumb else photo.path
    path = (media_root() / rel).resolve()
    if media_root().resolve() not in path.parents or not path.exists():
        raise ApiError(404, "the photo file is missing")
    return path, "image/jpeg" if thumb else photo.content_type


def remove_files(photo: Photo) -> None:
    """Delete a photo's files (used when its incident is deleted)."""
    for rel in (photo.path, photo.thumb_path):
        try:
            os.unlink(media_root() / rel)
        except FileNotFoundError:
            pass
