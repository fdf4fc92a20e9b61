"""OwnTracks in HTTP mode: JSON messages; ``location`` is stored, other types are ignored. Reply ``[]``.

User and device come from HTTP Basic auth (the password is a Wuwei token, ``flask tokens create``; a
device vouched for this way is registered on first use) or from ``X-Limit-U``/``X-Limit-D`` of a
device registered beforehand.
"""
import base64
import binascii

from werkzeug.wrappers import Request

from app.auth.services import user_for_token
from app.core.errors import ApiError
from app.patrols.devices import is_active_device, register_owntracks_device
from app.patrols.ingest import ingest_fixes
from app.tracking.osmand import bad_fix, json_body
from gis.tracks import Fix, FixError, parse_owntracks

MAX_MESSAGES = 1000


def identity(req: Request) -> tuple[str, bool]:
    """``user/device`` from Basic auth or X-Limit-U/X-Limit-D, and whether a token vouched for it."""
    header = req.headers.get("Authorization", "")
    device = (req.headers.get("X-Limit-D") or "").strip()
    if header.lower().startswith("basic "):
        try:
            user, _, password = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise ApiError(401, "malformed Basic authorization") from None
        owner = user_for_token(password)
        if owner is None or owner.username != user:
            raise ApiError(401, "Basic auth: the user name and a token of that user (flask tokens create) "
                                "are required", code="unauthorized")
        return f"{user}/{device or 'phone'}", True
    user = (req.headers.get("X-Limit-U") or "").strip()
    if not user:
        raise ApiError(401, "send Basic auth (user and token) or X-Limit-U/X-Limit-D of a registered device")
    return f"{user}/{device or 'phone'}", False


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
    body = json_body(req)
    messages = body if isinstance(body, list) else [body]
    if len(messages) > MAX_MESSAGES:
        raise ApiError(413, f"at most {MAX_MESSAGES} messages per request")
    ident, vouched = identity(req)
    fixes = location_fixes(messages)
    if fixes and vouched and not is_active_device(ident):
        register_owntracks_device(ident)
    if fixes:
        ingest_fixes(ident, fixes, "owntracks")
