"""OwnTracks in HTTP mode: JSON messages; ``location`` is stored, other types are ignored. Reply ``[]``.

Every request carries HTTP Basic auth: the user name is the device owner's user name or the device's
public name (``patrol/iphone``), the password the device's secret (issued on ``/patrols/devices``).
An unknown secret, a wrong one and a name that does not go with it all answer the same 401.
``X-Limit-U``/``X-Limit-D`` (and the Recorder's ``?u=&d=``) name nothing on their own: the secret does.
"""

import base64
import binascii

from werkzeug.wrappers import Request

from app.core.errors import ApiError
from app.patrols.devices import device_for_login
from app.patrols.ingest import ingest_fixes
from app.tracking.osmand import bad_fix, json_body
from gis.tracks import Fix, FixError, parse_owntracks

MAX_MESSAGES = 1000
REALM = 'Basic realm="Wuwei tracking", charset="UTF-8"'
UNAUTHORIZED = "Basic auth required: your user name and the device's secret from /patrols/devices"


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


def location_fixes(messages: list) -> list[Fix]:
    """The fixes of the ``location`` messages (other types are skipped); 400 for a bad one."""
    fixes = []
    for m in messages:
        try:
            fix = parse_owntracks(m)
        except FixError as e:
            raise bad_fix(e) from None
        if fix is not None:
            fixes.append(fix)
    return fixes


def receive(req: Request) -> None:
    """Store what one OwnTracks request carries (one message, or a queue of them sent together)."""
    user, secret = basic_credentials(req)
    if device_for_login(user, secret) is None:
        raise unauthorized()
    body = json_body(req)
    messages = body if isinstance(body, list) else [body]
    if len(messages) > MAX_MESSAGES:
        raise ApiError(413, f"at most {MAX_MESSAGES} messages per request")
    fixes = location_fixes(messages)
    if fixes:
        ingest_fixes(secret, fixes, "owntracks")
