"""``/api/v1/patrols…`` and ``/api/v1/devices``: patrols, tracks, results, live map, coverage, devices.

Session-cookie writes need the CSRF header (as in :mod:`app.basemap.api`); bearer tokens do not.
"""
import datetime as dt
import json

from flask import Blueprint, Response, current_app, jsonify, request, url_for
from flask_login import current_user

from app.web.api import geojson_response, int_arg, json_body
from app.auth.access import current_scope, require_login
from app.auth.services import via_bearer
from app.core.errors import ApiError
from app.core.extensions import csrf
from app.patrols import services
from app.patrols.models import PATROL_KINDS, PATROL_STATES
from gis.geometry import GeometryError, parse_bbox
from gis.tracks import FixError, parse_csv, parse_gpx, parse_time, parse_web_batch

bp = Blueprint("patrols_api", __name__, url_prefix="/api/v1")
MAX_IMPORT_BYTES = 20 * 1024 * 1024


@bp.before_request
def _protect():
    """Cookie-session writes carry X-CSRFToken; bearer-token clients do not need it."""
    if request.method not in ("GET", "HEAD", "OPTIONS") and not via_bearer() \
            and current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()


def patrol_json(p, stats: bool = False) -> dict:
    """A patrol as plain JSON (participants by display name only)."""
    d = {"id": p.id, "kind": p.kind, "title": p.title, "state": p.state,
         "area": {"code": p.area.code, "name": p.area.name},
         "team": {"id": p.team.id, "name": p.team.name} if p.team else None,
         "planned_start": p.planned_start.isoformat() if p.planned_start else None,
         "started_at": p.started_at.isoformat() if p.started_at else None,
         "ended_at": p.ended_at.isoformat() if p.ended_at else None,
         "participants": [u.display_name for u in p.participants],
         "results": {"cleanup_width_m": float(p.cleanup_width_m) if p.cleanup_width_m is not None else None,
                     "bags": p.bags, "weight_kg": float(p.weight_kg) if p.weight_kg is not None else None,
                     "volunteers": p.volunteers, "bikes_reparked": p.bikes_reparked,
                     "riders_guided": p.riders_guided, "note": p.note},
         "distance_m": round(p.distance_m, 1) if p.distance_m is not None else None,
         "area_m2": round(p.area_m2, 1) if p.area_m2 is not None else None,
         "links": {"self": url_for("patrols_api.patrol", patrol_id=p.id),
                   "track": url_for("patrols_api.track", patrol_id=p.id),
                   "gpx": url_for("patrols_api.gpx", patrol_id=p.id),
                   "page": url_for("patrols.detail", patrol_id=p.id)}}
    if stats:
        d["stats"] = services.patrol_stats(p)
    return d


def _time_arg(name: str):
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        return parse_time(raw if "T" in raw or len(raw) > 10 else raw + "T00:00:00+08:00", name)
    except FixError as e:
        raise ApiError(400, str(e), {name: e.message}) from None


def _bbox():
    try:
        return parse_bbox(request.args.get("bbox"))
    except GeometryError as e:
        raise ApiError(400, str(e), {"bbox": str(e)}) from None


@bp.get("/patrols")
def patrols():
    """Patrols the user may see, newest first (filters: kind, state, from, to, area, team)."""
    require_login()
    kind, state = request.args.get("kind"), request.args.get("state")
    if kind and kind not in PATROL_KINDS:
        raise ApiError(400, f"kind must be one of {', '.join(PATROL_KINDS)}", {"kind": "unknown"})
    if state and state not in PATROL_STATES:
        raise ApiError(400, f"state must be one of {', '.join(PATROL_STATES)}", {"state": "unknown"})
    area = request.args.get("area")
    if area and not area.isdigit():
        raise ApiError(400, "area must be an area code (digits)", {"area": "malformed"})
    limit, offset = int_arg("limit", 50, 1, 500), int_arg("offset", 0, 0, 10_000_000)
    rows, total = services.list_patrols(current_user, kind=kind, state=state, start=_time_arg("from"),
                                        end=_time_arg("to"), area_code=area,
                                        team_id=int_arg("team", 0, 0, 2**31 - 1) or None,
                                        limit=limit, offset=offset)
    return jsonify({"total": total, "patrols": [patrol_json(p) for p in rows]})


@bp.post("/patrols")
def create_patrol():
    """Plan a patrol, or start it at once with ``"start": true``."""
    require_login()
    body = json_body()
    if not isinstance(body, dict):
        raise ApiError(400, "send a JSON object")
    unknown = set(body) - {"kind", "title", "area", "team_id", "participants", "planned_start", "planned_route",
                           "start", "cleanup_width_m"}
    if unknown:
        raise ApiError(422, f"unknown field(s): {', '.join(sorted(unknown))}", {k: "unknown" for k in unknown})
    planned = None
    if body.get("planned_start"):
        try:
            planned = parse_time(body["planned_start"], "planned_start")
        except FixError as e:
            raise ApiError(422, str(e), {"planned_start": e.message}) from None
    parts = body.get("participants") or []
    if not isinstance(parts, list) or not all(isinstance(x, str) for x in parts):
        raise ApiError(422, "participants must be a list of user names", {"participants": "list of user names"})
    team_id = body.get("team_id")
    if team_id is not None and (isinstance(team_id, bool) or not isinstance(team_id, int)):
        raise ApiError(422, "team_id must be an integer", {"team_id": "integer"})
    width = body.get("cleanup_width_m")
    if width is not None and (isinstance(width, bool) or not isinstance(width, (int, float))):
        raise ApiError(422, "cleanup_width_m must be a number", {"cleanup_width_m": "number"})
    area = body.get("area")
    if area is not None and not isinstance(area, str):
        raise ApiError(422, "area must be an area code string", {"area": "string"})
    p = services.create_patrol(current_user, body.get("kind"), body.get("title") or "", area_code=area,
                               team_id=team_id, participants=parts, planned_start=planned,
                               planned_route=body.get("planned_route"), start=body.get("start") is True,
                               cleanup_width_m=width)
    return jsonify(patrol_json(p)), 201


@bp.get("/patrols/<int:patrol_id>")
def patrol(patrol_id: int):
    """One patrol with its statistics."""
    require_login()
    return jsonify(patrol_json(services.get_patrol(current_user, patrol_id), stats=True))


@bp.patch("/patrols/<int:patrol_id>")
def update_patrol(patrol_id: int):
    """Change the title or results (bags, weight_kg, volunteers, bikes_reparked, riders_guided, note …)."""
    require_login()
    body = json_body()
    if not isinstance(body, dict):
        raise ApiError(400, "send a JSON object")
    return jsonify(patrol_json(services.update_results(current_user, patrol_id, body)))


@bp.post("/patrols/<int:patrol_id>/start")
def start(patrol_id: int):
    """Start a planned patrol."""
    require_login()
    return jsonify(patrol_json(services.start_patrol(current_user, patrol_id)))


@bp.post("/patrols/<int:patrol_id>/stop")
def stop(patrol_id: int):
    """Stop an active patrol and build its track."""
    require_login()
    return jsonify(patrol_json(services.stop_patrol(current_user, patrol_id), stats=True))


@bp.post("/patrols/<int:patrol_id>/positions")
def positions(patrol_id: int):
    """The phone page's queued fixes: ``{"positions": [{"lat","lon","t","acc",…}]}``; resends are skipped."""
    require_login()
    body = json_body()
    if not isinstance(body, dict):
        raise ApiError(400, "send a JSON object with a positions list")
    try:
        fixes = parse_web_batch(body.get("positions"))
    except FixError as e:
        raise ApiError(422, f"bad position: {e}", {e.field: e.message}) from None
    added = services.upload_batch(current_user, patrol_id, fixes)
    return jsonify({"received": len(fixes), "stored": added})


@bp.post("/patrols/<int:patrol_id>/import")
def import_track(patrol_id: int):
    """Upload a GPX or CSV track (multipart field ``file``; optional ``device`` identifier)."""
    require_login()
    if (request.content_length or 0) > MAX_IMPORT_BYTES:
        raise ApiError(413, f"files up to {MAX_IMPORT_BYTES // 1024 // 1024} MB")
    f = request.files.get("file")
    if f is None:
        raise ApiError(400, "send the track as multipart field 'file'", {"file": "required"})
    data = f.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        raise ApiError(413, f"files up to {MAX_IMPORT_BYTES // 1024 // 1024} MB")
    name = (f.filename or "").lower()
    fmt = request.form.get("format") or ("csv" if name.endswith(".csv") else "gpx")
    if fmt not in ("gpx", "csv"):
        raise ApiError(422, "format must be gpx or csv", {"format": "gpx or csv"})
    try:
        fixes = parse_gpx(data) if fmt == "gpx" else parse_csv(data)
    except FixError as e:
        raise ApiError(422, f"cannot import: {e.message}", {e.field: e.message}) from None
    added = services.import_track(current_user, patrol_id, fixes, fmt, request.form.get("device") or None)
    return jsonify({"received": len(fixes), "stored": added}), 201


@bp.get("/patrols/<int:patrol_id>/track")
def track(patrol_id: int):
    """The cleaned track (one LineString per device) as GeoJSON, simplified for display."""
    require_login()
    p = services.get_patrol(current_user, patrol_id)
    tol = int_arg("simplify", 2, 0, 100)
    services.audit_track_read(current_user, p, "track")
    return geojson_response(services.track_geojson(p, tol))


@bp.get("/patrols/<int:patrol_id>.gpx")
def gpx(patrol_id: int):
    """GPX 1.1 export of the cleaned track."""
    require_login()
    p = services.get_patrol(current_user, patrol_id)
    services.audit_track_read(current_user, p, "gpx")
    return Response(services.export_gpx(p), mimetype="application/gpx+xml",
                    headers={"Content-Disposition": f'attachment; filename="patrol-{p.id}.gpx"'})


@bp.get("/patrols/<int:patrol_id>/bad-parking")
def bad_parking(patrol_id: int):
    """Bad-parking spots found on a patrol (GeoJSON)."""
    require_login()
    p = services.get_patrol(current_user, patrol_id)
    return geojson_response(services.spots_geojson(current_scope(), patrol_id=p.id, limit=5000))


@bp.post("/patrols/<int:patrol_id>/bad-parking")
def add_bad_parking(patrol_id: int):
    """Record a bad-parking spot ``{"lon","lat","bikes","reparked","note"}``; linked to the nearest zone."""
    require_login()
    body = json_body()
    if not isinstance(body, dict):
        raise ApiError(400, "send a JSON object")
    found = None
    if body.get("found_at"):
        try:
            found = parse_time(body["found_at"], "found_at")
        except FixError as e:
            raise ApiError(422, str(e), {"found_at": e.message}) from None
    spot = services.add_bad_parking(current_user, patrol_id, body.get("lon"), body.get("lat"),
                                    body.get("bikes", 1), bool(body.get("reparked")), body.get("note"), found)
    return jsonify({"id": spot.id, "nearest_zone_id": spot.nearest_zone_id,
                    "zone_distance_m": round(spot.zone_distance_m, 1) if spot.zone_distance_m is not None else None,
                    "grid_id": spot.grid_id}), 201


@bp.get("/bad-parking-spots")
def spots():
    """All bad-parking spots in the user's area, for the map (``bbox``, ``limit``)."""
    require_login()
    if current_user.role not in services.TRACK_READERS + ("planner", "leader"):
        raise ApiError(403, "no access")
    return geojson_response(services.spots_geojson(current_scope(), bbox=_bbox(),
                                                   limit=int_arg("limit", 1000, 1, 10000)))


@bp.get("/patrols/live")
def live():
    """Active patrols: last position of each device and its trail of the last ``minutes`` (GeoJSON)."""
    require_login()
    return geojson_response(services.live_geojson(current_user, bbox=_bbox(),
                                                  minutes=int_arg("minutes", 30, 1, 24 * 60),
                                                  limit=int_arg("limit", 2000, 1, 10000)))


@bp.get("/patrols/coverage")
def coverage():
    """Per grid: fixes, patrols and days walked this week or month; grids not walked."""
    require_login()
    period = request.args.get("period", "week")
    raw = request.args.get("date")
    day = None
    if raw:
        try:
            day = dt.date.fromisoformat(raw)
        except ValueError:
            raise ApiError(400, "date must be YYYY-MM-DD", {"date": "YYYY-MM-DD"}) from None
    return jsonify(services.coverage(current_user, period, day))


@bp.get("/devices")
def devices():
    """The user's tracking devices."""
    require_login()
    return jsonify({"devices": [{"id": d.id, "identifier": d.identifier, "name": d.name, "kind": d.kind,
                                 "active": d.active} for d in services.devices_of(current_user)]})


@bp.post("/devices")
def register_device():
    """Register a device identifier for yourself (admins: for ``user``)."""
    require_login()
    body = json_body()
    if not isinstance(body, dict):
        raise ApiError(400, "send a JSON object")
    username = current_user.username
    if body.get("user") and body["user"] != username:
        if current_user.role != "admin":
            raise ApiError(403, "only admins register devices for other users")
        username = body["user"]
    for k in ("identifier", "name", "kind"):
        if body.get(k) is not None and not isinstance(body[k], str):
            raise ApiError(422, f"{k} must be a string", {k: "string"})
    d = services.register_device(username, body.get("identifier") or "", body.get("name") or "",
                                 body.get("kind") or "traccar")
    return jsonify({"id": d.id, "identifier": d.identifier, "name": d.name, "kind": d.kind}), 201


ERR = {"$ref": "#/components/responses/Error"}


def openapi_paths() -> dict:
    """OpenAPI path items for these endpoints and the tracking protocols."""
    def op(summary, responses=None, body=None, params=None):
        o = {"summary": summary, "tags": ["patrols"],
             "responses": responses or {"200": {"description": "OK"}, "401": ERR, "403": ERR, "404": ERR}}
        if body:
            o["requestBody"] = {"required": True, "content": body}
        if params:
            o["parameters"] = [{"name": n, "in": "query", "schema": {"type": "string"}, "description": d}
                               for n, d in params.items()]
        return o
    pid = [{"name": "patrol_id", "in": "path", "required": True, "schema": {"type": "integer"}}]
    js = {"application/json": {"schema": {"type": "object"}}}
    w = {"200": {"description": "OK"}, "400": ERR, "401": ERR, "403": ERR, "404": ERR, "409": ERR, "415": ERR,
         "422": ERR}
    return {
        "/api/v1/patrols": {
            "get": op("Patrols you may see", params={"kind": "grid_walk|cleanup|bike_rectification|charger_check|other",
                                                     "state": "planned|active|finished|cancelled",
                                                     "from": "ISO date/time", "to": "ISO date/time",
                                                     "area": "area code", "team": "team id", "limit": "1..500",
                                                     "offset": ">= 0"}),
            "post": op("Plan or start a patrol (kind, title, area, team_id, participants, planned_start, "
                       "planned_route GeoJSON, start, cleanup_width_m)", {**w, "201": {"description": "created"}}, js)},
        "/api/v1/patrols/{patrol_id}": {"parameters": pid, "get": op("A patrol with statistics"),
                                        "patch": op("Change title/results", w, js)},
        "/api/v1/patrols/{patrol_id}/start": {"parameters": pid, "post": op("Start", w)},
        "/api/v1/patrols/{patrol_id}/stop": {"parameters": pid, "post": op("Stop and build the track", w)},
        "/api/v1/patrols/{patrol_id}/positions": {"parameters": pid, "post": op(
            "Batch of fixes from the phone page {positions: [{lat, lon, t, acc, speed, heading, alt}]}", w, js)},
        "/api/v1/patrols/{patrol_id}/import": {"parameters": pid, "post": op(
            "Import a GPX or CSV track (multipart 'file', optional 'device')",
            {**w, "201": {"description": "imported"}, "413": ERR}, {"multipart/form-data": {"schema": {"type": "object"}}})},
        "/api/v1/patrols/{patrol_id}/track": {"parameters": pid, "get": op("Cleaned track as GeoJSON",
                                                                           params={"simplify": "metres 0..100"})},
        "/api/v1/patrols/{patrol_id}.gpx": {"parameters": pid, "get": op("GPX export")},
        "/api/v1/patrols/{patrol_id}/bad-parking": {"parameters": pid, "get": op("Bad-parking spots (GeoJSON)"),
                                                    "post": op("Record a bad-parking spot {lon, lat, bikes, reparked, note}",
                                                               {**w, "201": {"description": "created"}}, js)},
        "/api/v1/bad-parking-spots": {"get": op("Bad-parking spots in your area (GeoJSON)",
                                                params={"bbox": "minLon,minLat,maxLon,maxLat", "limit": "1..10000"})},
        "/api/v1/patrols/live": {"get": op("Active patrols: last positions and trails (GeoJSON)",
                                           params={"bbox": "minLon,minLat,maxLon,maxLat", "minutes": "trail length",
                                                   "limit": "1..10000"})},
        "/api/v1/patrols/coverage": {"get": op("Grids walked / not walked this week or month",
                                               params={"period": "week|month", "date": "YYYY-MM-DD"})},
        "/api/v1/devices": {"get": op("Your tracking devices"),
                            "post": op("Register a device {identifier, name, kind}", {**w, "201": {"description": "created"}}, js)},
        "/track/osmand": {
            "get": {"summary": "OsmAnd protocol (Traccar Client): id, lat, lon, timestamp, speed (knots), bearing, "
                               "altitude, accuracy, hdop, batt", "tags": ["tracking"],
                    "responses": {"200": {"description": "stored (empty body)"}, "400": ERR}},
            "post": {"summary": "OsmAnd form fields, or Traccar Client JSON {device_id, location: {timestamp, coords}}",
                     "tags": ["tracking"],
                     "responses": {"200": {"description": "stored (empty body)"}, "400": ERR, "404": ERR, "413": ERR}}},
        "/track/owntracks": {
            "post": {"summary": "OwnTracks HTTP mode (_type location; Basic auth user + token, or X-Limit-U/D)",
                     "tags": ["tracking"],
                     "responses": {"200": {"description": "[]"}, "400": ERR, "401": ERR, "404": ERR}}},
    }
