"""``/api/v1/patrols…``, ``/api/v1/bad-parking-spots`` and ``/api/v1/devices``: patrols, tracks,
results, the live map, coverage and tracking devices. Models in :mod:`app.patrols.schemas`."""

import re

from flask import Response, request, url_for
from geojson_pydantic import FeatureCollection

from app.auth import policy
from app.core.errors import ApiError
from app.core.time import TZ
from app.patrols import access, lifecycle, parking, tracks
from app.patrols import coverage as coverage_
from app.patrols import devices as devices_
from app.patrols import live as live_
from app.patrols.schemas import (
    BadParkingQuery,
    BadParkingSpotCreated,
    BadParkingSpotIn,
    FixesReceived,
    PatrolCoverage,
    PatrolCoverageQuery,
    PatrolIn,
    PatrolList,
    PatrolListQuery,
    PatrolLiveQuery,
    PatrolOut,
    PatrolResultsIn,
    PatrolTrackQuery,
    PhonePositionsIn,
    TrackingDevice,
    TrackingDeviceIn,
    TrackingDevices,
    TrackUpload,
)
from app.web.api import GEOJSON, ApiBlueprint, endpoint, geojson_response, json_response
from gis.trackfiles import parse_csv, parse_gpx
from gis.tracks import FixError, parse_web_batch

bp = ApiBlueprint("patrols_api", __name__, tag="patrols")
MAX_IMPORT_BYTES = 20 * 1024 * 1024


def _num(value, digits: int = 1):
    return round(float(value), digits) if value is not None else None


def patrol_json(p, stats: bool = False) -> dict:
    """A patrol as plain JSON (participants by display name only)."""
    d = {
        "id": p.id,
        "kind": p.kind,
        "title": p.title,
        "state": p.state,
        "area": {"code": p.area.code, "name": p.area.name},
        "team": {"id": p.team.id, "name": p.team.name} if p.team else None,
        "planned_start": p.planned_start.isoformat() if p.planned_start else None,
        "started_at": p.started_at.isoformat() if p.started_at else None,
        "ended_at": p.ended_at.isoformat() if p.ended_at else None,
        "participants": [u.display_name for u in p.participants],
        "results": {
            "cleanup_width_m": float(p.cleanup_width_m) if p.cleanup_width_m is not None else None,
            "bags": p.bags,
            "weight_kg": float(p.weight_kg) if p.weight_kg is not None else None,
            "volunteers": p.volunteers,
            "bikes_reparked": p.bikes_reparked,
            "riders_guided": p.riders_guided,
            "note": p.note,
        },
        "distance_m": _num(p.distance_m),
        "area_m2": _num(p.area_m2),
        "links": {
            "self": url_for("patrols_api.patrol", patrol_id=p.id),
            "track": url_for("patrols_api.track", patrol_id=p.id),
            "gpx": url_for("patrols_api.gpx", patrol_id=p.id),
            "page": url_for("patrols.detail", patrol_id=p.id),
        },
    }
    if stats:
        d["stats"] = tracks.patrol_stats(p)
    return d


# --------------------------------------------------------------------------- patrols


@bp.get("/patrols")
@endpoint(query=PatrolListQuery, response=PatrolList, permission="patrols.run")
def patrols(query: PatrolListQuery):
    """Patrols the user may see, newest first (filters: kind, state, from, to, area, team)."""
    rows, total = access.list_patrols(
        policy.require_login(),
        kind=query.kind,
        state=query.state,
        start=query.from_,
        end=query.to,
        area_code=query.area,
        team_id=query.team or None,
        limit=query.limit,
        offset=query.offset,
    )
    return json_response({"total": total, "patrols": [patrol_json(p) for p in rows]})


@bp.post("/patrols")
@endpoint(body=PatrolIn, response=PatrolOut, status=201, permission="patrols.run", errors=(403,))
def create_patrol(body: PatrolIn):
    """Plan a patrol, or start it at once with ``"start": true``."""
    route = body.planned_route.model_dump(exclude_none=True) if body.planned_route else None
    p = lifecycle.create_patrol(
        policy.require_login(),
        body.kind,
        body.title,
        area_code=body.area,
        team_id=body.team_id,
        participants=body.participants,
        planned_start=body.planned_start,
        planned_route=route,
        start=body.start,
        cleanup_width_m=body.cleanup_width_m,
    )
    return json_response(patrol_json(p), 201)


@bp.get("/patrols/<int:patrol_id>")
@endpoint(response=PatrolOut, permission="patrols.run", errors=(404,))
def patrol(patrol_id: int):
    """One patrol with its statistics."""
    return json_response(patrol_json(access.get_patrol(policy.require_login(), patrol_id), stats=True))


@bp.patch("/patrols/<int:patrol_id>")
@endpoint(body=PatrolResultsIn, response=PatrolOut, permission="patrols.run", errors=(404,))
def update_patrol(patrol_id: int, body: PatrolResultsIn):
    """Change the title or results (bags, weight_kg, volunteers, bikes_reparked, riders_guided, note …)."""
    p = lifecycle.update_results(policy.require_login(), patrol_id, body.model_dump(exclude_unset=True))
    return json_response(patrol_json(p))


@bp.post("/patrols/<int:patrol_id>/start")
@endpoint(response=PatrolOut, permission="patrols.run", errors=(404, 409))
def start(patrol_id: int):
    """Start a planned patrol."""
    return json_response(patrol_json(lifecycle.start_patrol(policy.require_login(), patrol_id)))


@bp.post("/patrols/<int:patrol_id>/stop")
@endpoint(response=PatrolOut, permission="patrols.run", errors=(404, 409))
def stop(patrol_id: int):
    """Stop an active patrol and build its track."""
    return json_response(patrol_json(lifecycle.stop_patrol(policy.require_login(), patrol_id), stats=True))


# --------------------------------------------------------------------------- positions and tracks


@bp.post("/patrols/<int:patrol_id>/positions")
@endpoint(body=PhonePositionsIn, response=FixesReceived, permission="patrols.run", errors=(404, 409))
def positions(patrol_id: int, body: PhonePositionsIn):
    """The phone page's queued fixes: ``{"positions": [{"lat","lon","t","acc",…}]}``; resends are skipped."""
    try:
        fixes = parse_web_batch([f.model_dump() for f in body.positions], tz=TZ)
    except FixError as e:
        field = re.sub(r"\[(\d+)\]", r".\1", e.field)  # positions[3].lat → positions.3.lat
        raise ApiError(422, f"bad position: {e}", {field: e.message}) from None
    added = lifecycle.upload_batch(policy.require_login(), patrol_id, fixes)
    return json_response({"received": len(fixes), "stored": added})


def _uploaded_fixes():
    """The fixes of the GPX or CSV file in the multipart field ``file``."""
    if (request.content_length or 0) > MAX_IMPORT_BYTES:
        raise ApiError(413, f"files up to {MAX_IMPORT_BYTES // 1024 // 1024} MB")
    f = request.files.get("file")
    if f is None:
        raise ApiError(400, "send the track as multipart field 'file'", {"file": "required"})
    data = f.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        raise ApiError(413, f"files up to {MAX_IMPORT_BYTES // 1024 // 1024} MB")
    fmt = request.form.get("format") or ("csv" if (f.filename or "").lower().endswith(".csv") else "gpx")
    if fmt not in ("gpx", "csv"):
        raise ApiError(422, "format must be gpx or csv", {"format": "gpx or csv"})
    try:
        return fmt, parse_gpx(data, tz=TZ) if fmt == "gpx" else parse_csv(data, tz=TZ)
    except FixError as e:
        raise ApiError(422, f"cannot import: {e.message}", {e.field: e.message}) from None


def _refused(track) -> dict:
    return {
        "refused": [{"where": r.where, "reason": r.reason} for r in track.refused],
        "refused_count": track.refused_count,
    }


@bp.post("/patrols/<int:patrol_id>/import")
@endpoint(form=TrackUpload, response=FixesReceived, status=201, permission="patrols.run", errors=(404, 413))
def import_track(patrol_id: int):
    """Upload a GPX or CSV track to a patrol (a finished one too). Points that fail a check are listed in
    ``refused`` and the others imported — or, with ``all_or_nothing``, the file is refused (422) with that list."""
    fmt, track = _uploaded_fixes()
    strict = (request.form.get("all_or_nothing") or "").lower() in ("1", "true", "on", "yes")
    if track.refused_count and (strict or not track.fixes):
        why = "some points were refused (all_or_nothing)" if track.fixes else "no point could be imported"
        raise ApiError(422, f"cannot import: {why}; see fields.points", {"points": _refused(track)["refused"]})
    user = policy.require_login()
    added = lifecycle.import_track(user, patrol_id, track.fixes, fmt, request.form.get("device") or None)
    return json_response({"received": len(track.fixes) + track.refused_count, "stored": added, **_refused(track)}, 201)


@bp.get("/patrols/<int:patrol_id>/track")
@endpoint(
    query=PatrolTrackQuery, response=FeatureCollection, media_type=GEOJSON, permission="patrols.run", errors=(404,)
)
def track(patrol_id: int, query: PatrolTrackQuery):
    """The cleaned track (one LineString per device) as GeoJSON, simplified for display."""
    user = policy.require_login()
    p = access.get_patrol(user, patrol_id)
    tracks.audit_track_read(user, p, "track")
    return geojson_response(tracks.track_geojson(p, query.simplify))


@bp.get("/patrols/<int:patrol_id>.gpx")
@endpoint(permission="patrols.run", errors=(404,))
def gpx(patrol_id: int):
    """GPX 1.1 export of the cleaned track (``application/gpx+xml``)."""
    user = policy.require_login()
    p = access.get_patrol(user, patrol_id)
    tracks.audit_track_read(user, p, "gpx")
    return Response(
        tracks.export_gpx(p),
        mimetype="application/gpx+xml",
        headers={"Content-Disposition": f'attachment; filename="patrol-{p.id}.gpx"'},
    )


# --------------------------------------------------------------------------- bad parking


@bp.get("/patrols/<int:patrol_id>/bad-parking")
@endpoint(response=FeatureCollection, media_type=GEOJSON, permission="patrols.run", errors=(404,))
def bad_parking(patrol_id: int):
    """Bad-parking spots found on a patrol (GeoJSON)."""
    p = access.get_patrol(policy.require_login(), patrol_id)
    return geojson_response(parking.spots_geojson(policy.current_scope(), patrol_id=p.id, limit=5000))


@bp.post("/patrols/<int:patrol_id>/bad-parking")
@endpoint(body=BadParkingSpotIn, response=BadParkingSpotCreated, status=201, permission="patrols.run", errors=(404,))
def add_bad_parking(patrol_id: int, body: BadParkingSpotIn):
    """Record a bad-parking spot; it is linked to the nearest active bike zone."""
    spot = parking.add_bad_parking(
        policy.require_login(), patrol_id, body.lon, body.lat, body.bikes, body.reparked, body.note, body.found_at
    )
    return json_response(
        {
            "id": spot.id,
            "nearest_zone_id": spot.nearest_zone_id,
            "zone_distance_m": _num(spot.zone_distance_m),
            "grid_id": spot.grid_id,
        },
        201,
    )


@bp.get("/bad-parking-spots")
@endpoint(query=BadParkingQuery, response=FeatureCollection, media_type=GEOJSON, permission="patrols.figures")
def spots(query: BadParkingQuery):
    """All bad-parking spots in the user's area, for the map (``bbox``, ``limit``)."""
    return geojson_response(parking.spots_geojson(policy.current_scope(), bbox=query.bbox, limit=query.limit))


# --------------------------------------------------------------------------- live map and coverage


@bp.get("/patrols/live")
@endpoint(query=PatrolLiveQuery, response=FeatureCollection, media_type=GEOJSON, permission="patrols.run")
def live(query: PatrolLiveQuery):
    """Active patrols: last position of each device and its trail of the last ``minutes`` (GeoJSON)."""
    return geojson_response(
        live_.live_geojson(policy.require_login(), bbox=query.bbox, minutes=query.minutes, limit=query.limit)
    )


@bp.get("/patrols/coverage")
@endpoint(query=PatrolCoverageQuery, response=PatrolCoverage, permission="patrols.figures")
def coverage(query: PatrolCoverageQuery):
    """Per grid: fixes, patrols and days walked this week or month; grids not walked."""
    return json_response(coverage_.coverage(policy.require_login(), query.period, query.date))


# --------------------------------------------------------------------------- devices


def _device_json(d) -> dict:
    return {
        "id": d.id,
        "identifier": d.identifier,
        "name": d.name,
        "kind": d.kind,
        "active": d.active,
        "can_report": d.secret_hash is not None,
    }


@bp.get("/devices")
@endpoint(response=TrackingDevices)
def devices():
    """The user's tracking devices."""
    return json_response({"devices": [_device_json(d) for d in devices_.devices_of(policy.require_login())]})


@bp.post("/devices")
@endpoint(body=TrackingDeviceIn, response=TrackingDevice, status=201, errors=(403, 409))
def register_device(body: TrackingDeviceIn):
    """Register a tracking device for yourself (admins: for ``user``); the answer carries its secret, once."""
    user = policy.require_login()
    username = user.username
    if body.user and body.user != username:
        if not policy.can(user, "devices.manage"):
            raise ApiError(403, "only admins register devices for other users")
        username = body.user
    d, secret = devices_.register_device(username, body.name, body.kind, body.secret, body.identifier or "")
    return json_response({**_device_json(d), "secret": secret}, 201)


@bp.post("/devices/<int:device_id>/secret")
@endpoint(response=TrackingDevice, errors=(404,))
def renew_device_secret(device_id: int):
    """A new secret for one of your devices (the old one stops working at once); shown in this answer only."""
    d, secret = devices_.renew_secret(policy.require_login(), device_id)
    return json_response({**_device_json(d), "secret": secret})
