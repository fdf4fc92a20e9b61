"""OwnTracks in HTTP mode: ``location`` messages are fixes, ``transition`` messages (entering or leaving a
region) device events; other types are ignored. The reply lists the patrol mates' last positions as
``card`` and ``location`` objects, as the OwnTracks Recorder does, so the app shows them as friends.
An ``encrypted`` payload is refused with 422 (not 200, so that the app keeps it and sends it again).

Every request carries HTTP Basic auth: the user name is the device owner's user name or the device's
public name (``patrol/iphone``), the password the device's secret (issued on ``/patrols/devices``).
An unknown secret, a wrong one and a name that does not go with it all answer the same 401.
``X-Limit-U``/``X-Limit-D`` (and the Recorder's ``?u=&d=``) name nothing on their own: the secret does.
"""

import base64
import binascii

from werkzeug.wrappers import Request

from app.core.errors import ApiError
from app.core.time import TZ
from app.patrols.devices import device_for_login
from app.patrols.events import record_report
from app.patrols.live import patrol_mates
from app.tracking.osmand import bad_fix, json_body
from gis.tracks import FixError, parse_owntracks

MAX_MESSAGES = 1000
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
    body = json_body(req)
    messages = body if isinstance(body, list) else [body]
    if len(messages) > MAX_MESSAGES:
        raise ApiError(413, f"at most {MAX_MESSAGES} messages per request")
    fixes, events = read_messages(messages)
    owner = device.user_id
    if fixes or events:
        record_report(secret, fixes, events, "owntracks")
    return friends(owner)
