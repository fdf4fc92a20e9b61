"""Tracking protocols: ``/track/osmand`` (Traccar Client) and ``/track/owntracks`` (OwnTracks HTTP).

Both answer as those apps expect (OsmAnd: 200 with an empty body; OwnTracks: ``[]``) and
store each fix with one INSERT that ignores resends. No login session, no CSRF, no rate
limit (phones report every few seconds); the device identifier or token is the credential.
"""
import base64
import binascii
import json

from flask import Blueprint, Response, request

from app.errors import ApiError
from app.patrols import services
from gis.tracks import (FixError, osmand_device, parse_osmand, parse_owntracks, parse_traccar_json,
                        traccar_json_device)

bp = Blueprint("tracking", __name__, url_prefix="/track")
MAX_BODY = 64 * 1024


def _json_body():
    if (request.content_length or 0) > MAX_BODY:
        raise ApiError(413, f"a position report is at most {MAX_BODY} bytes")
    try:
        return json.loads(request.get_data(cache=False) or b"")
    except (ValueError, UnicodeDecodeError) as e:
        raise ApiError(400, f"malformed JSON: {e}") from None


def _bad(e: FixError):
    raise ApiError(400, f"bad position: {e}", {e.field: e.message})


@bp.route("/osmand", methods=["GET", "POST"])
def osmand():
    """One fix in the OsmAnd protocol: query/form fields, or the JSON body of newer Traccar Clients."""
    if request.method == "POST" and (request.mimetype or "").endswith("json"):
        body = _json_body()
        ident = traccar_json_device(body)
        if not ident:
            raise ApiError(400, "device_id is required", {"device_id": "required"})
        try:
            fix = parse_traccar_json(body)
        except FixError as e:
            _bad(e)
        unknown_status = 404
    else:
        if (request.content_length or 0) > MAX_BODY:
            raise ApiError(413, f"a position report is at most {MAX_BODY} bytes")
        args = request.values
        ident = osmand_device(args)
        if not ident:
            raise ApiError(400, "id (or deviceid) is required", {"id": "required"})
        try:
            fix = parse_osmand(args)
        except FixError as e:
            _bad(e)
        unknown_status = 400
    try:
        services.ingest_fix(ident, fix, "osmand")
    except ApiError as e:
        if e.status == 404:
            raise ApiError(unknown_status, e.message, e.fields) from None
        raise
    return Response(b"", status=200)


def _owntracks_identity() -> tuple[str, bool]:
    """``user/device`` from Basic auth (password = a Wuwei token) or X-Limit-U/X-Limit-D.

    Returns the identifier and whether a token vouched for it (then it may be registered on the fly).
    """
    from app.auth.services import user_for_token
    header = request.headers.get("Authorization", "")
    device = (request.headers.get("X-Limit-D") or "").strip()
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
    user = (request.headers.get("X-Limit-U") or "").strip()
    if not user:
        raise ApiError(401, "send Basic auth (user and token) or X-Limit-U/X-Limit-D of a registered device")
    return f"{user}/{device or 'phone'}", False


@bp.post("/owntracks")
def owntracks():
    """OwnTracks HTTP mode: a JSON message; ``location`` is stored, other types are ignored. Reply ``[]``."""
    body = _json_body()
    if isinstance(body, list):      # queued messages sent together
        messages = body
    else:
        messages = [body]
    if len(messages) > 1000:
        raise ApiError(413, "at most 1000 messages per request")
    ident, vouched = _owntracks_identity()
    fixes = []
    for m in messages:
        try:
            fix = parse_owntracks(m)
        except FixError as e:
            _bad(e)
        if fix is not None:
            fixes.append(fix)
    if fixes and vouched and services.device_lookup(ident) is None:
        services.register_owntracks_device(ident)
    for fix in fixes:
        services.ingest_fix(ident, fix, "owntracks")
    return Response(b"[]", status=200, mimetype="application/json")
