"""Tracking devices: a Traccar Client identifier or an OwnTracks ``user/device``, tied to a user."""
import re

from sqlalchemy import select

from app.audit.services import record, snapshot
from app.auth.models import User
from app.core.errors import ApiError
from app.core.extensions import db
from app.patrols.models import DEVICE_KINDS, IDENTIFIER_PATTERN, Device


def _errors(user, username: str, identifier: str, name: str, kind: str) -> dict:
    errors = {}
    if user is None:
        errors["user"] = f"no user {username!r}"
    if not re.fullmatch(IDENTIFIER_PATTERN, identifier):
        errors["identifier"] = "3–64 characters: letters, digits and _ . : / @ -"
    if kind not in DEVICE_KINDS:
        errors["kind"] = f"one of {', '.join(DEVICE_KINDS)}"
    if len(name or "") > 128:
        errors["name"] = "at most 128 characters"
    return errors


def register_device(username: str, identifier: str, name: str = "", kind: str = "traccar") -> Device:
    """Tie a device identifier (Traccar Client id, OwnTracks ``user/device``) to a user."""
    identifier = (identifier or "").strip()
    user = db.session.scalar(select(User).where(User.username == username))
    errors = _errors(user, username, identifier, name, kind)
    if errors:
        raise ApiError(422, "invalid device", errors)
    if db.session.scalar(select(Device.id).where(Device.identifier == identifier)):
        raise ApiError(409, f"device {identifier!r} is already registered", {"identifier": "taken"})
    device = Device(identifier=identifier, user_id=user.id, name=name or identifier, kind=kind, active=True)
    db.session.add(device)
    db.session.flush()
    record("insert", "devices", device.id, after=snapshot(device))
    db.session.commit()
    return device


def devices_of(user) -> list[Device]:
    """A user's devices."""
    return list(db.session.scalars(select(Device).where(Device.user_id == user.id).order_by(Device.id)))


def all_devices() -> list[Device]:
    """Every registered device (``flask devices list``)."""
    return list(db.session.scalars(select(Device).order_by(Device.id)))


def device_by_identifier(identifier: str) -> Device | None:
    """The device registered as ``identifier``, active or not."""
    return db.session.scalar(select(Device).where(Device.identifier == identifier))


def is_active_device(identifier: str) -> bool:
    """Whether ``identifier`` is an active device of an active user (fixes from it are stored)."""
    return db.session.scalar(select(Device.id).join(User, User.id == Device.user_id).where(
        Device.identifier == identifier, Device.active, User.active)) is not None


def web_device(user) -> Device:
    """The phone page's own device for ``user`` (created on first use)."""
    ident = f"web-{user.username}"[:64]
    dev = device_by_identifier(ident)
    if dev is None:
        dev = Device(identifier=ident, user_id=user.id, name="手机网页", kind="web", active=True)
        db.session.add(dev)
        db.session.flush()
        record("insert", "devices", dev.id, after=snapshot(dev))
    return dev


def register_owntracks_device(identifier: str) -> None:
    """Register ``user/device`` for its user when a token vouched for it (OwnTracks Basic auth)."""
    username = identifier.split("/", 1)[0]
    try:
        register_device(username, identifier, name=f"OwnTracks {identifier}", kind="owntracks")
    except ApiError as e:
        if e.status != 409:
            raise ApiError(400, f"cannot register OwnTracks device {identifier!r}: {e.message}", e.fields) from None
        raise ApiError(403, f"device {identifier!r} belongs to someone else") from None
