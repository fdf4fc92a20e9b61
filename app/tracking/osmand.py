"""The OsmAnd protocol (Traccar Client, OsmAnd): one fix per request, answered 200 with an empty body.

Query or form fields (``id``/``deviceid``, ``lat``, ``lon`` or ``location``, ``timestamp``, ``speed`` in
knots …) or, from newer Traccar Clients, a JSON body (``device_id``, ``location.coords``). The device
identifier is the device's secret, issued by the server (:mod:`app.patrols.devices`): an identifier
that matches no device is 400 in the field form and 404 in the JSON form (what each client expects),
with the same message whatever was sent, so that nothing tells which devices exist; errors carry the
API's JSON envelope; a database that cannot be reached is 503, so that the app sends the fix again.
"""

import json
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager

from sqlalchemy.engine import Connection
from werkzeug.wrappers import Request

from app.core.errors import ApiError, envelope
from app.patrols.ingest import store_fix
from app.web.errors import database_unreachable
from gis.tracks import (
    Fix,
    FixError,
    osmand_device,
    parse_osmand,
    parse_traccar_json,
    traccar_json_device,
)

log = logging.getLogger(__name__)

PATH = "/track/osmand"
MAX_BODY = 64 * 1024

Connect = Callable[[], AbstractContextManager[Connection]]
"""Gives the connection one fix is stored on, and commits it (or leaves that to an outer transaction)."""


def json_body(req: Request):
    """The request's JSON (any value), 413 beyond :data:`MAX_BODY`, 400 when malformed."""
    if (req.content_length or 0) > MAX_BODY:
        raise ApiError(413, f"a position report is at most {MAX_BODY} bytes")
    try:
        return json.loads(req.get_data(cache=False) or b"")
    except (ValueError, UnicodeDecodeError) as e:
        raise ApiError(400, f"malformed JSON: {e}") from None


def bad_fix(e: FixError) -> ApiError:
    """A fix that fails the checks of :mod:`gis.tracks`: 400 naming the field."""
    return ApiError(400, f"bad position: {e}", {e.field: e.message})


def read_osmand(req: Request) -> tuple[str, Fix, int]:
    """Device identifier, fix, and the status for an unknown device, from one OsmAnd request."""
    if req.method == "POST" and (req.mimetype or "").endswith("json"):
        body = json_body(req)
        ident = traccar_json_device(body)
        if not ident:
            raise ApiError(400, "device_id is required", {"device_id": "required"})
        try:
            return ident, parse_traccar_json(body), 404
        except FixError as e:
            raise bad_fix(e) from None
    if (req.content_length or 0) > MAX_BODY:
        raise ApiError(413, f"a position report is at most {MAX_BODY} bytes")
    args = req.values
    ident = osmand_device(args)
    if not ident:
        raise ApiError(400, "id (or deviceid) is required", {"id": "required"})
    try:
        return ident, parse_osmand(args), 400
    except FixError as e:
        raise bad_fix(e) from None


def _store(connect: Connect, secret: str, fix: Fix, unknown_status: int) -> None:
    try:
        with connect() as conn:
            store_fix(conn, secret, fix, "osmand")
    except ApiError as e:
        if e.status == 404:
            raise ApiError(unknown_status, e.message, e.fields) from None
        raise


def osmand_response(req: Request, connect: Connect) -> tuple[int, bytes]:
    """Status and body (empty, or the JSON error envelope) for one OsmAnd request."""
    try:
        ident, fix, unknown_status = read_osmand(req)
        _store(connect, ident, fix, unknown_status)
        return 200, b""
    except ApiError as e:
        return e.status, _json(envelope(e.status, e.message, e.fields, e.code))
    except Exception as e:
        if database_unreachable(e):  # one line per fix, no traceback: phones keep sending while it lasts
            log.warning("tracking: database unreachable on %s %s: %s", req.method, req.path, e.__class__.__name__)
            return 503, _json(envelope(503, "database unavailable; send the fix again later"))
        log.exception("tracking: unhandled error on %s %s", req.method, req.path)
        return 500, _json(envelope(500, "Internal error; it has been logged."))


def _json(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode()
