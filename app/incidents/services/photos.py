"""Incident photos: checked by content, re-encoded without metadata, thumbnailed, stored under MEDIA_ROOT.

The file name a client sends is never trusted: :func:`app.core.images.clean_image` reads the bytes
with Pillow (an executable renamed ``.jpg`` is refused) and writes the pixels into a new file, which
drops EXIF (phones put the GPS position and the device there). An incident keeps at most
``incident_photos`` photos (the ``caps`` table, 20 unless raised): the database refuses one more
(trigger ``trg_incident_photos_cap``, migration 0010), so parallel uploads can't pass the cap.
"""

import hashlib
import os
import secrets
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from app.audit.services import record
from app.auth.policy import Scope
from app.core.errors import ApiError
from app.core.extensions import db
from app.core.images import clean_image
from app.core.media import write_files
from app.incidents.models import Photo
from app.incidents.services.records import load

THUMB = (320, 320)
CAP = "incident_photos"  # the row of the caps table (migration 0010)


def media_root() -> Path:
    """Where photos live (``MEDIA_ROOT``), created on first use."""
    root = Path(current_app.config["MEDIA_ROOT"]) / "incidents"
    root.mkdir(parents=True, exist_ok=True)
    return root


def max_photos() -> int:
    """How many photos an incident keeps (``caps.incident_photos``)."""
    return db.session.scalar(text("SELECT wuwei_cap(:name)"), {"name": CAP})


def _full(cap: int) -> ApiError:
    return ApiError(409, f"an incident keeps at most {cap} photos", {"photo": "too many photos"})


def _store(incident_id: int, image) -> tuple[str, str, list[Path]]:
    """Write the photo and its thumbnail; their relative paths and the files written."""
    name = f"{incident_id}/{secrets.token_hex(8)}"
    root = media_root()
    rel, trel = f"{name}{image.extension}", f"{name}.thumb.jpg"
    write_files({root / rel: image.data, root / trel: image.thumbnail})  # both or neither; 507 when the disk is full
    return rel, trel, [root / rel, root / trel]


def add_photo(incident_id: int, data: bytes, user, scope: Scope, transition_id: int | None = None) -> Photo:
    """Store one photo of an incident the user may see; returns the row (409 when the incident is full)."""
    incident = load(incident_id, scope)
    cap = max_photos()
    count = db.session.scalar(select(func.count()).select_from(Photo).where(Photo.incident_id == incident.id))
    if count >= cap:  # early, before decoding; the database has the last word (below)
        raise _full(cap)
    image = clean_image(data, "photo", thumbnail=THUMB)
    path, thumb_path, written = _store(incident.id, image)
    photo = Photo(
        incident_id=incident.id,
        transition_id=transition_id,
        path=path,
        thumb_path=thumb_path,
        content_type=image.content_type,
        width=image.width,
        height=image.height,
        bytes=len(image.data),
        sha256=hashlib.sha256(data).hexdigest(),
        uploaded_by=getattr(user, "id", None),
    )
    db.session.add(photo)
    try:
        db.session.flush()
        record(
            "insert",
            "incident_photos",
            photo.id,
            after={"incident_id": incident.id, "path": photo.path, "bytes": photo.bytes},
        )
        db.session.commit()
    except Exception as e:
        db.session.rollback()
        for p in written:
            p.unlink(missing_ok=True)
        if (
            isinstance(e, IntegrityError)
            and getattr(getattr(e.orig, "diag", None), "constraint_name", None) == "cap_incident_photos"
        ):
            raise _full(cap) from None
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
