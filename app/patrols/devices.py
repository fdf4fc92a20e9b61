"""Tracking devices: a phone of a user that reports fixes through Traccar Client or OwnTracks.

A device has a public name (``identifier``, e.g. ``patrol/iphone``) and a secret the server issues
(:func:`issue_secret`): Traccar Client sends it as its "device identifier", OwnTracks as its Basic-auth
password. Only the secret's SHA-256 is stored (it is random and long, so a fast hash is enough), and a
fix is matched to its device by that hash. A secret chosen by hand must be at least
:data:`MIN_SECRET_LENGTH` characters and hard to guess (zxcvbn), or it is refused.
"""

import hashlib
import hmac
import re
import secrets

from sqlalchemy import func, select
from zxcvbn import zxcvbn

from app.audit.services import record, snapshot
from app.auth.models import User
from app.auth.policy import can
from app.core.errors import ApiError
from app.core.extensions import db
from app.patrols.models import DEVICE_KINDS, IDENTIFIER_PATTERN, Device

MIN_SECRET_LENGTH = 20
MAX_SECRET_LENGTH = 200
MIN_GUESSES_LOG10 = 14  # zxcvbn's estimate: 10^14 guesses, years at the rate a server answers
SECRET_BYTES = 24  # secrets.token_urlsafe(24): 32 characters, 192 bits


def hash_secret(secret: str) -> str:
    """The stored form of a device secret (SHA-256, hex)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def weak_secret_reason(secret: str, hints: list[str] = ()) -> str | None:
    """Why a hand-chosen secret is refused, or None when it is long and hard enough to guess."""
    if len(secret) < MIN_SECRET_LENGTH:
        return f"at least {MIN_SECRET_LENGTH} characters (leave it empty and the server issues one)"
    if len(secret) > MAX_SECRET_LENGTH or not re.fullmatch(r"[\x21-\x7e]+", secret):
        return f"at most {MAX_SECRET_LENGTH} printable ASCII characters without spaces"
    if zxcvbn(secret[:72], user_inputs=[h for h in hints if h])["guesses_log10"] < MIN_GUESSES_LOG10:  # its cap: 72
        return "too easy to guess (a pattern, a sequence or a name): leave it empty and the server issues one"
    return None


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.:@-]+", "-", text or "").strip("-")[:40]


def _free_identifier(username: str, name: str, kind: str) -> str:
    """A public name ``user/name`` (``user/kind`` when the name has no ASCII letters), made unique."""
    base = f"{username}/{_slug(name) or kind}"[:60]
    taken = set(db.session.scalars(select(Device.identifier).where(Device.identifier.startswith(base))))
    n, ident = 1, base
    while ident in taken:
        n += 1
        ident = f"{base}-{n}"
    return ident


def _errors(user, username: str, identifier: str, name: str, kind: str, secret: str | None) -> dict:
    errors = {}
    if user is None:
        errors["user"] = f"no user {username!r}"
    if identifier and not re.fullmatch(IDENTIFIER_PATTERN, identifier):
        errors["identifier"] = "3–64 characters: letters, digits and _ . : / @ -"
    if kind not in DEVICE_KINDS or kind == "web":
        errors["kind"] = f"one of {', '.join(k for k in DEVICE_KINDS if k != 'web')}"
    if len(name or "") > 128:
        errors["name"] = "at most 128 characters"
    if secret is not None:
        reason = weak_secret_reason(secret, [username, identifier, name])
        if reason:
            errors["secret"] = reason
    return errors


def _taken(secret_hash: str) -> bool:
    return db.session.scalar(select(Device.id).where(Device.secret_hash == secret_hash)) is not None


def register_device(
    username: str, name: str = "", kind: str = "traccar", secret: str | None = None, identifier: str = ""
) -> tuple[Device, str]:
    """Register a device for a user; returns it and its secret (shown once, never stored).

    ``secret`` empty: the server issues one. ``identifier`` empty: the public name is ``user/name``.
    """
    identifier, secret = (identifier or "").strip(), (secret or "").strip() or None
    user = db.session.scalar(select(User).where(User.username == username))
    errors = _errors(user, username, identifier, name, kind, secret)
    if errors:
        raise ApiError(422, "invalid device", errors)
    identifier = identifier or _free_identifier(username, name, kind)
    if db.session.scalar(select(Device.id).where(Device.identifier == identifier)):
        raise ApiError(409, f"device {identifier!r} is already registered", {"identifier": "taken"})
    secret = secret or secrets.token_urlsafe(SECRET_BYTES)
    if _taken(hash_secret(secret)):
        raise ApiError(409, "that secret is in use: leave it empty and the server issues one", {"secret": "taken"})  # nosec B105 (a message)
    device = Device(
        identifier=identifier,
        user_id=user.id,
        name=name or identifier,
        kind=kind,
        active=True,
        secret_hash=hash_secret(secret),
    )
    db.session.add(device)
    db.session.flush()
    record("insert", "devices", device.id, after=snapshot(device))
    db.session.commit()
    return device, secret


def issue_secret(device: Device) -> str:
    """A new random secret for ``device`` (the old one stops working at once); returned once."""
    secret = secrets.token_urlsafe(SECRET_BYTES)
    device.secret_hash = hash_secret(secret)
    db.session.flush()
    record("update", "devices", device.id, after={"secret": "issued"})  # nosec B105 (an audit note)
    db.session.commit()
    return secret


def renew_secret(user, device_id: int) -> tuple[Device, str]:
    """A new secret for one of ``user``'s devices (admins: anyone's); 404 for any other device."""
    device = db.session.get(Device, device_id)
    if device is None or device.kind == "web" or (device.user_id != user.id and not can(user, "devices.manage")):
        raise ApiError(404, "no such device of yours", {"device": "unknown"})
    return device, issue_secret(device)


def devices_of(user) -> list[Device]:
    """A user's devices."""
    return list(db.session.scalars(select(Device).where(Device.user_id == user.id).order_by(Device.id)))


def all_devices() -> list[Device]:
    """Every registered device (``flask devices list``)."""
    return list(db.session.scalars(select(Device).order_by(Device.id)))


def device_by_identifier(identifier: str) -> Device | None:
    """The device registered as ``identifier`` (its public name), active or not."""
    return db.session.scalar(select(Device).where(Device.identifier == identifier))


def device_for_secret(secret: str) -> Device | None:
    """The active device of an active user whose secret is ``secret``, or None (one lookup by hash)."""
    key = hash_secret(secret or "")  # hashed even when empty: the same work whatever was sent
    return db.session.scalar(
        select(Device)
        .join(User, User.id == Device.user_id)
        .where(Device.secret_hash == key, Device.active, User.active)
    )


def device_for_login(username: str, secret: str) -> Device | None:
    """HTTP Basic auth of a device: ``username`` is its owner's user name or its public name, the password
    its secret. None for an unknown secret and for a wrong name alike, with the same comparisons."""
    device = device_for_secret(secret)
    names = (device.user.username, device.identifier) if device else ("\x00", "\x00")
    given = (username or "").encode()
    matches = [hmac.compare_digest(given, n.encode()) for n in names]  # both compared, always
    return device if device is not None and any(matches) else None


def is_unnamed(device: Device) -> bool:
    """Whether ``device`` was registered without a name of its own (its name is its public name)."""
    return not device.name or device.name == device.identifier


def name_device(device: Device, name: str) -> None:
    """Give a device registered without a name the name its app reports (OwnTracks' device id); audited,
    committed. Nothing happens when it has a name already."""
    if not is_unnamed(device):
        return
    before = {"name": device.name}
    device.name = name
    db.session.flush()
    record("update", "devices", device.id, before=before, after={"name": name}, user_id=device.user_id)
    db.session.commit()


def is_active_device(identifier: str) -> bool:
    """Whether ``identifier`` names an active device of an active user."""
    return (
        db.session.scalar(
            select(func.count(Device.id))
            .join(User, User.id == Device.user_id)
            .where(Device.identifier == identifier, Device.active, User.active)
        )
        > 0
    )


def web_device(user) -> Device:
    """The phone page's own device for ``user`` (created on first use). It has no secret: the page
    posts fixes with its logged-in session, so nothing can report as this device through a protocol."""
    ident = f"web-{user.username}"[:64]
    dev = device_by_identifier(ident)
    if dev is None:
        dev = Device(identifier=ident, user_id=user.id, name="手机网页", kind="web", active=True)
        db.session.add(dev)
        db.session.flush()
        record("insert", "devices", dev.id, after=snapshot(dev))
    return dev
