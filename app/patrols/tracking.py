"""Tracking protocols: ``/track/osmand`` (Traccar Client) and ``/track/owntracks`` (OwnTracks HTTP).

Both answer as those apps expect (OsmAnd: 200 with an empty body; OwnTracks: ``[]``) and
store each fix with one INSERT that ignores resends. No login session, no CSRF, no rate
limit (phones report every few seconds); the device identifier or token is the credential.
"""
import base64
import binascii
import json

from flask import Blueprint, Response, current_app, request

from app.core.errors import ApiError
from app.patrols import services
from app.patrols.gateway import EXTENSION, osmand_response
from gis.tracks import (Fix, FixError, osmand_device, parse_osmand, parse_owntracks, parse_traccar_json,
                        traccar_json_device)

bp = Blueprint("tracking", __name__, url_prefix="/track")
MAX_BODY = 64 * 1024


def _json_body(req=None):
    req = req or request
    if (req.content_length or 0) > MAX_BODY:
        raise ApiError(413, f"a position report is at most {MAX_BODY} bytes")
    try:
        return json.loads(req.get_data(cache=False) or b"")
    except (ValueError, UnicodeDecodeError) as e:
        raise ApiError(400, f"malformed JSON: {e}") from None


def _bad(e: FixError):
    raise ApiError(400, f"bad position: {e}", {e.field: e.message})


def read_osmand(req) -> tuple[str, Fix, int]:
    """Device identifier, fix, and the status for an unknown device, from one OsmAnd request.

    Query/form fields (Traccar Client's classic form, OsmAnd) or the JSON body of newer Traccar
    Clients. ``req`` is a Werkzeug request; raises :class:`ApiError` for bad input.
    """
    if req.method == "POST" and (req.mimetype or "").endswith("json"):
        body = _json_body(req)
        ident = traccar_json_device(body)
        if not ident:
            raise ApiError(400, "device_id is required", {"device_id": "required"})
        try:
            return ident, parse_traccar_json(body), 404
        except FixError as e:
            _bad(e)
    if (req.content_length or 0) > MAX_BODY:
        raise ApiError(413, f"a position report is at most {MAX_BODY} bytes")
    args = req.values
    ident = osmand_device(args)
    if not ident:
        raise ApiError(400, "id (or deviceid) is required", {"id": "required"})
    try:
        return ident, parse_osmand(args), 400
    except FixError as e:
        _bad(e)


@bp.route("/osmand", methods=["GET", "POST"])
def osmand():
    """One fix in the OsmAnd protocol. Normally answered by the tracking gateway before Flask
    (:mod:`app.patrols.gateway`); this view serves the same code when the gateway is off."""
    gateway = current_app.extensions[EXTENSION]
    status, body = osmand_response(request, gateway.connection)
    return Response(body, status=status, mimetype="application/json" if body else None)


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
