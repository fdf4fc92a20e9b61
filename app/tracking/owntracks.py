"""OwnTracks in HTTP mode: ``location`` messages are fixes, ``transition`` messages (entering or leaving a
region) device events; other types are ignored. The reply lists the patrol mates' last positions as
``card`` and ``location`` objects, as the OwnTracks Recorder does, so the app shows them as friends.
An ``encrypted`` payload is refused with 422 (not 200, so that the app keeps it and sends it again).

Every request carries HTTP Basic auth: the user name is the device owner's user name or the device's
public name (``patrol/iphone``), the password the device's secret (issued on ``/patrols/devices``).
An unknown secret, a wrong one and a name that does not go with it all answer the same 401.

The Recorder's naming (``?u=user&d=device``, or the headers ``X-Limit-U``/``X-Limit-D`` the apps send,
which win over the query as in the Recorder) is checked against the device the secret authenticated,
after authentication: a user or device it does not name is 403 and nothing is stored. A device
registered without a name takes the reported device name. ``u``/``d`` never select another device:
a secret is one device's credential, so renewing or deactivating a device stops all it sent.
"""

import base64
import binascii

from werkzeug.wrappers import Request

from app.core.errors import ApiError
from app.core.time import TZ
from app.patrols.devices import device_for_login, is_unnamed, name_device
from app.patrols.events import record_report
from app.patrols.live import patrol_mates
from app.tracking.osmand import bad_fix, json_body
from gis.tracks import FixError, parse_owntracks

MAX_MESSAGES = 1000
MAX_NAME = 128
REALM = 'Basic realm="Wuwei tracking", charset="UTF-8"'
UNAUTHORIZED = "Basic auth required: your user name and the device's secret from /patrols/devices"
ENCRYPTED = (
    "encrypted OwnTracks payloads are not supported (the app keeps them and sends again): "
    "turn encryption off (Preferences → Encryption key: empty)"
)


def unauthorized() -> ApiError:
    """The one answer for a missing, malformed, unknown or wrong credential."""
    return ApiError(401, UNAUTHORIZED, code="unauthorized")


def basic_credentials(req: Request) -> tuple[str, str]:
    """User name and password of the request's Basic auth; 401 when absent or unreadable."""
    header = req.headers.get("Authorization", "")
    if not header[:6].lower() == "basic ":
        raise unauthorized()
    try:
        user, sep, password = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise unauthorized() from None
    if not sep:
        raise unauthorized()
    return user, password


def named(req: Request, field: str) -> str | None:
    """What the request names as user (``u``) or device (``d``): ``X-Limit-U``/``X-Limit-D`` first, then
    the query, as the Recorder reads them (lowercased); None when absent or empty; 400 when unusable."""
    value = (req.headers.get(f"X-Limit-{field.upper()}") or req.args.get(field) or "").strip()
    if len(value) > MAX_NAME or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ApiError(400, f"{field}: at most {MAX_NAME} printable characters", {field: "unusable name"})
    return value.lower() or None


def check_names(device, user: str | None, name: str | None) -> None:
    """403 when ``u``/``d`` name another user or device than the one the secret authenticated."""
    owner = device.user.username
    if user is not None and user not in (owner.lower(), device.identifier.lower()):
        raise ApiError(
            403,
            f"u/X-Limit-U names user {user!r}, but this secret is of device {device.identifier!r} of user "
            f"{owner!r}: set the user name in the app's Identification to {owner!r}",
            {"u": f"not the device's user ({owner})"},
        )
    names = {device.name.lower(), device.identifier.lower(), device.identifier.rsplit("/", 1)[-1].lower()}
    if name is not None and not is_unnamed(device) and name not in names:
        short = device.identifier.rsplit("/", 1)[-1]
        raise ApiError(
            403,
            f"d/X-Limit-D names device {name!r}, but this secret is of device {device.identifier!r} "
            f"({device.name}): set the Device ID in the app's Identification to {short!r}, or use {name!r}'s secret",
            {"d": f"not this secret's device ({device.identifier})"},
        )


def read_messages(messages: list) -> tuple[list, list]:
    """The fixes (``location``) and events (``transition``) of the messages; other types are skipped.
    400 for a bad one; 422 for an encrypted one, before anything is stored."""
    if any(isinstance(m, dict) and m.get("_type") == "encrypted" for m in messages):
        raise ApiError(422, ENCRYPTED, {"_type": "encrypted payloads are not supported"}, code="encrypted")
    fixes, events = [], []
    for m in messages:
        try:
            report = parse_owntracks(m, tz=TZ)
        except FixError as e:
            raise bad_fix(e) from None
        fixes += [report.fix] if report.fix else []
        events += report.events
    return fixes, events


def friends(user_id: int) -> list[dict]:
    """The last positions of the other members of the user's open patrol, as OwnTracks ``card`` and
    ``location`` objects (the Recorder's answer in HTTP mode: the app shows them as friends)."""
    out = []
    for m in patrol_mates(user_id):
        topic = f"owntracks/{m['username']}/{m['identifier'].split('/')[-1]}"
        tid = (m["username"][:2] or "??").upper()
        out.append({"_type": "card", "name": m["display_name"] or m["username"], "tid": tid, "topic": topic})
        location = {"_type": "location", "lat": m["lat"], "lon": m["lon"], "tst": int(m["fixed_at"].timestamp())}
        location.update(tid=tid, topic=topic)
        if m["accuracy"] is not None:
            location["acc"] = round(m["accuracy"])
        if m["battery"] is not None:
            location["batt"] = round(m["battery"])
        out.append(location)
    return out


def receive(req: Request) -> list[dict]:
    """Store what one OwnTracks request carries (one message, or a queue of them sent together); the
    answer is the patrol mates' last positions."""
    user, secret = basic_credentials(req)
    device = device_for_login(user, secret)
    if device is None:
        raise unauthorized()
    name = named(req, "d")
    check_names(device, named(req, "u"), name)
    body = json_body(req)
    messages = body if isinstance(body, list) else [body]
    if len(messages) > MAX_MESSAGES:
        raise ApiError(413, f"at most {MAX_MESSAGES} messages per request")
    fixes, events = read_messages(messages)
    owner = device.user_id
    if name is not None and is_unnamed(device):
        name_device(device, name)
    if fixes or events:
        record_report(secret, fixes, events, "owntracks")
    return friends(owner)
