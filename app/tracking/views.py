"""``/track/osmand`` and ``/track/owntracks`` as Flask views.

No login session, no CSRF, no rate limit (phones report every few seconds); the device's secret is
the credential (Traccar Client's device identifier, OwnTracks' Basic-auth password). In production ``/track/osmand`` is answered before Flask by the gateway
(:mod:`app.tracking.gateway`); this view runs the same code when the gateway is not installed
(``flask run``, ``WUWEI_TRACKING_GATEWAY=0``).
"""

import json
from contextlib import contextmanager

from flask import Blueprint, Response, request

from app.core.extensions import db
from app.tracking import osmand as osmand_
from app.tracking import owntracks as owntracks_

bp = Blueprint("tracking", __name__, url_prefix="/track")


@contextmanager
def _session_connection():
    """The request session's connection; the fix is committed with the session."""
    yield db.session.connection()
    db.session.commit()


@bp.route("/osmand", methods=["GET", "POST", "HEAD"])
def osmand():
    """One fix in the OsmAnd protocol (Traccar Client)."""
    status, body = osmand_.osmand_response(request, _session_connection)
    return Response(body, status=status, mimetype="application/json" if body else None)


@bp.post("/owntracks")
def owntracks():
    """OwnTracks HTTP mode: fixes and transitions are stored; the reply lists the patrol mates' positions."""
    mates = owntracks_.receive(request)
    return Response(json.dumps(mates, ensure_ascii=False), status=200, mimetype="application/json")


@bp.after_request
def _ask_for_basic_auth(resp: Response) -> Response:
    """A 401 of OwnTracks says which credentials it wants (RFC 7617)."""
    if resp.status_code == 401 and request.endpoint == "tracking.owntracks":
        resp.headers["WWW-Authenticate"] = owntracks_.REALM
    return resp
