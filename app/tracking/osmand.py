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
from contextlib import AbstractContextManager, nullcontext

from sqlalchemy.engine import Connection
from werkzeug.wrappers import Request

from app.core.errors import ApiError, envelope
from app.core.time import TZ
from app.patrols.events import record_report
from app.patrols.ingest import store_fix
from app.web.errors import database_unreachable
from gis.tracks import (
    FixError,
    Report,
    osmand_device,
    parse_osmand_report,
    parse_traccar_json,
    traccar_json_device,
)

log = logging.getLogger(__name__)

PATH = "/track/osmand"
MAX_BODY = 64 * 1024

Connect = Callable[[], AbstractContextManager[Connection]]
"""Gives the connection one fix is stored on, and commits it (or leaves that to an outer transaction)."""
InApp = Callable[[], AbstractContextManager]
"""Enters the application context (``app.app_context``) in which events and their alerts are recorded."""


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


def read_osmand(req: Request) -> tuple[str, Report, int]:
    """Device secret, what the request reports, and the status for an unknown device, from one request."""
    if req.method == "POST" and (req.mimetype or "").endswith("json"):
        body = json_body(req)
        secret = traccar_json_device(body)
        if not secret:
            raise ApiError(400, "device_id is required", {"device_id": "required"})
        try:
            return secret, parse_traccar_json(body, tz=TZ), 404
        except FixError as e:
            raise bad_fix(e) from None
    if (req.content_length or 0) > MAX_BODY:
        raise ApiError(413, f"a position report is at most {MAX_BODY} bytes")
    args = req.values
    secret = osmand_device(args)
    if not secret:
        raise ApiError(400, "id (or deviceid) is required", {"id": "required"})
    try:
        return secret, parse_osmand_report(args, req.method, tz=TZ), 400
    except FixError as e:
        raise bad_fix(e) from None


def _store(connect: Connect, in_app: InApp, secret: str, report: Report, unknown_status: int) -> None:
    try:
        if report.events:  # rare (an alarm, a heartbeat): through the app's session, with the alerts they raise
            with in_app():
                record_report(secret, [report.fix] if report.fix else [], report.events, "osmand")
        else:
            with connect() as conn:
                store_fix(conn, secret, report.fix, "osmand")
    except ApiError as e:
        if e.status == 404:
            raise ApiError(unknown_status, e.message, e.fields) from None
        raise


def osmand_response(req: Request, connect: Connect, in_app: InApp = nullcontext) -> tuple[int, bytes]:
    """Status and body (empty, or the JSON error envelope) for one OsmAnd request.

    ``connect`` gives the connection a plain fix is stored on; ``in_app`` the application context that
    events are recorded in (the gateway runs outside Flask's; a Flask view is inside it already).
    """
    if req.method not in ("GET", "POST"):  # HEAD (link checkers, proxies) changes nothing
        return 200, b""
    try:
        secret, report, unknown_status = read_osmand(req)
        _store(connect, in_app, secret, report, unknown_status)
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
