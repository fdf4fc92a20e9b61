"""Tracks and their figures, built in SQL from ``positions``: cleaning, distance, time, area, grids, GPX."""

import datetime as dt

import gpxpy.gpx
from sqlalchemy import func, select, text

from app.audit.services import record
from app.core.extensions import db
from app.patrols.models import BadParkingSpot, Patrol
from gis.tracks import MAX_ACCURACY_M, MAX_SPEED_MS

MAX_SEGMENT_GAP_S = 300  # a gap longer than this is not counted as moving or as time in a grid
MOVING_SPEED_MS = 0.3

# Cleaning, per device, in time order: drop fixes with poor accuracy; drop spikes (a fix that
# is reached and left at impossible speed); consecutive identical points are removed when lines
# are built. Resent fixes never reach here twice (unique device + time).
CLEAN_SQL = """
WITH raw AS (
    SELECT device_id, fixed_at, geom, accuracy FROM positions
    WHERE patrol_id = :pid AND (accuracy IS NULL OR accuracy <= :max_acc)
), nb AS (
    SELECT *,
        ST_Distance(geom::geography, lag(geom) OVER w::geography)
            / NULLIF(extract(epoch FROM fixed_at - lag(fixed_at) OVER w), 0) AS v_in,
        ST_Distance(geom::geography, lead(geom) OVER w::geography)
            / NULLIF(extract(epoch FROM lead(fixed_at) OVER w - fixed_at), 0) AS v_out
    FROM raw WINDOW w AS (PARTITION BY device_id ORDER BY fixed_at)
), clean AS (
    SELECT device_id, fixed_at, geom FROM nb
    WHERE NOT (coalesce(v_in, 0) > :max_v AND coalesce(v_out, 0) > :max_v)
      AND NOT (v_in IS NULL AND v_out > :max_v)
      AND NOT (v_out IS NULL AND v_in > :max_v)
), seg AS (
    SELECT device_id, fixed_at, geom,
        lead(geom) OVER w AS next_geom,
        extract(epoch FROM lead(fixed_at) OVER w - fixed_at) AS dt_s
    FROM clean WINDOW w AS (PARTITION BY device_id ORDER BY fixed_at)
)
"""

_STATS_SQL_TAIL = """
, lines AS (
    SELECT device_id, ST_RemoveRepeatedPoints(ST_MakeLine(geom ORDER BY fixed_at)) AS line, count(*) AS n
    FROM clean GROUP BY device_id
), main AS (
    SELECT line, n FROM lines WHERE ST_NPoints(line) >= 2 ORDER BY n DESC LIMIT 1
), moving AS (
    SELECT coalesce(sum(dt_s) FILTER (WHERE dt_s <= :gap AND
        ST_Distance(geom::geography, next_geom::geography) / NULLIF(dt_s, 0) >= :moving), 0) AS s
    FROM seg
)
SELECT (SELECT line FROM main) AS track,
       (SELECT ST_Length(line::geography) FROM main) AS distance_m,
       (SELECT coalesce(sum(n), 0)::int FROM lines) AS fixes,
       (SELECT count(*)::int FROM positions WHERE patrol_id = :pid) AS raw_fixes,
       (SELECT extract(epoch FROM max(fixed_at) - min(fixed_at))::float8 FROM clean) AS duration_s,
       (SELECT s::float8 FROM moving) AS moving_s,
       -- Buffered in the track's UTM zone (metres), simplified to 0.5 m first: buffering every
       -- raw vertex of a long, self-crossing walk costs seconds and changes the area by < 0.5 %.
       (SELECT ST_Area(ST_Buffer(ST_Simplify(ST_Transform(u, srid), 0.5), :half_width))
          FROM (SELECT ST_Collect(line) AS u,
                       32600 + floor((ST_X(ST_Centroid(ST_Collect(line))) + 180) / 6)::int + 1 AS srid
                FROM lines) x WHERE u IS NOT NULL) AS area_m2
"""
_STATS_SQL = text(CLEAN_SQL + _STATS_SQL_TAIL)  # nosec B608 (constant SQL texts, no input in them)


def track_figures(patrol_id: int, width_m: float) -> dict:
    """Clean a patrol's fixes and measure them (distance on the geography, area in UTM metres)."""
    row = (
        db.session.execute(
            _STATS_SQL,
            {
                "pid": patrol_id,
                "max_acc": MAX_ACCURACY_M,
                "max_v": MAX_SPEED_MS,
                "gap": MAX_SEGMENT_GAP_S,
                "moving": MOVING_SPEED_MS,
                "half_width": float(width_m) / 2,
            },
        )
        .mappings()
        .one()
    )
    return dict(row)


def refresh_track(p: Patrol) -> None:
    """Rebuild the cached track and figures of ``p`` from its positions."""
    f = track_figures(p.id, float(p.cleanup_width_m or 10))
    p.track = f["track"]
    p.distance_m = f["distance_m"]
    p.fixes = f["fixes"]
    p.area_m2 = f["area_m2"] if p.kind == "cleanup" else None
    db.session.flush()


_GRIDS_SQL_TAIL = """
, cells AS (
    SELECT s.*, (SELECT a.id FROM areas a WHERE a.level = 'grid' AND ST_Intersects(a.geom, s.geom)
                 ORDER BY a.id LIMIT 1) AS grid_id
    FROM seg s
), lines AS (
    SELECT ST_MakeLine(geom ORDER BY fixed_at) AS line FROM clean GROUP BY device_id
), buffered AS (
    SELECT ST_Transform(ST_Buffer(ST_Simplify(ST_Transform(u, srid), 0.5), :half_width), 4326) AS g
    FROM (SELECT ST_Collect(line) AS u,
                 32600 + floor((ST_X(ST_Centroid(ST_Collect(line))) + 180) / 6)::int + 1 AS srid
          FROM lines WHERE ST_NPoints(line) >= 2) x WHERE u IS NOT NULL
)
SELECT a.id, a.code, a.name, count(*) AS fixes,
       coalesce(sum(c.dt_s) FILTER (WHERE c.dt_s <= :gap), 0) AS seconds,
       (SELECT ST_Area(ST_Intersection(b.g, a.geom)::geography) / NULLIF(ST_Area(a.geom::geography), 0)
          FROM buffered b) AS coverage
FROM cells c JOIN areas a ON a.id = c.grid_id
GROUP BY a.id, a.code, a.name ORDER BY seconds DESC
"""
_GRIDS_SQL = text(CLEAN_SQL + _GRIDS_SQL_TAIL)  # nosec B608 (constant SQL texts, no input in them)


def grids_visited(patrol_id: int, width_m: float = 20) -> list[dict]:
    """Grids a patrol passed through, time spent in each and the share of each grid's area covered."""
    rows = db.session.execute(
        _GRIDS_SQL,
        {
            "pid": patrol_id,
            "max_acc": MAX_ACCURACY_M,
            "max_v": MAX_SPEED_MS,
            "gap": MAX_SEGMENT_GAP_S,
            "half_width": float(width_m) / 2,
        },
    )
    return [dict(r) for r in rows.mappings()]


def patrol_stats(p: Patrol) -> dict:
    """Figures shown on the detail page and in the API."""
    f = track_figures(p.id, float(p.cleanup_width_m or 10))
    people = len(p.participants) + (p.volunteers or 0)
    hours = (f["duration_s"] or 0) / 3600
    if p.started_at and p.ended_at:
        hours = (p.ended_at - p.started_at).total_seconds() / 3600
    spots = db.session.execute(
        select(func.count().label("spots"), func.coalesce(func.sum(BadParkingSpot.bikes), 0).label("bikes")).where(
            BadParkingSpot.patrol_id == p.id
        )
    ).one()
    return {
        "fixes": f["fixes"],
        "raw_fixes": f["raw_fixes"],
        "dropped_fixes": f["raw_fixes"] - f["fixes"],
        "distance_m": round(f["distance_m"] or 0, 1),
        "duration_s": round(f["duration_s"] or 0),
        "moving_s": round(f["moving_s"] or 0),
        "area_m2": round(f["area_m2"] or 0, 1) if p.kind == "cleanup" else None,
        "people": people,
        "hours": round(hours, 2),
        "person_hours": round(hours * people, 2),
        "grids": [
            {
                "code": g["code"],
                "name": g["name"],
                "minutes": round(float(g["seconds"]) / 60, 1),
                "coverage": round(float(g["coverage"] or 0), 3),
            }
            for g in grids_visited(p.id)
        ],
        "bad_parking_spots": spots.spots,
        "bad_parked_bikes": spots.bikes,
    }


_TRACK_GEOJSON_TAIL = """
SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(json_build_object(
    'type', 'Feature', 'geometry', ST_AsGeoJSON(ST_Simplify(line, :tol), 7)::json,
    'properties', json_build_object('device', device_id, 'fixes', n, 'start', t0, 'end', t1,
                                    'distance_m', round(ST_Length(line::geography)::numeric, 1))
)), '[]'::json))::text
FROM (SELECT device_id, ST_MakeLine(geom ORDER BY fixed_at) AS line, count(*) AS n,
             min(fixed_at) AS t0, max(fixed_at) AS t1 FROM clean GROUP BY device_id) l
WHERE ST_NPoints(line) >= 2
"""
_TRACK_GEOJSON = text(CLEAN_SQL + _TRACK_GEOJSON_TAIL)  # nosec B608 (constant SQL texts, no input in them)


def audit_track_read(user, p: Patrol, what: str) -> None:
    """Where someone else was is personal data: reading another person's track is audited."""
    if user not in p.participants:
        record("read_personal", "patrols", p.id, after={"what": what})
        db.session.commit()


def track_geojson(p: Patrol, simplify_m: float = 2.0) -> str:
    """The cleaned track per device as GeoJSON, simplified for display (tolerance in metres)."""
    return db.session.execute(
        _TRACK_GEOJSON, {"pid": p.id, "max_acc": MAX_ACCURACY_M, "max_v": MAX_SPEED_MS, "tol": simplify_m / 111_320.0}
    ).scalar()


_CLEAN_FIXES_TAIL = """
SELECT c.device_id, c.fixed_at, ST_Y(c.geom) AS lat, ST_X(c.geom) AS lon, pos.altitude, pos.speed
FROM clean c JOIN positions pos ON pos.device_id = c.device_id AND pos.fixed_at = c.fixed_at
ORDER BY c.device_id, c.fixed_at
"""
_CLEAN_FIXES = text(CLEAN_SQL + _CLEAN_FIXES_TAIL)  # nosec B608 (constant SQL texts, no input in them)


def clean_fixes(p: Patrol) -> list[dict]:
    """The cleaned fixes in time order (for GPX export)."""
    rows = db.session.execute(_CLEAN_FIXES, {"pid": p.id, "max_acc": MAX_ACCURACY_M, "max_v": MAX_SPEED_MS})
    return [dict(r) for r in rows.mappings()]


def export_gpx(p: Patrol) -> str:
    """The patrol's cleaned track as GPX 1.1: one ``<trkseg>`` per device and stretch of walking — a pause
    longer than :data:`MAX_SEGMENT_GAP_S` (the phone off, a break) starts a new segment instead of a
    straight line across it."""
    gpx = gpxpy.gpx.GPX()
    gpx.creator = "Wuwei 五微"
    gpx.name = p.title
    trk = gpxpy.gpx.GPXTrack(name=p.title, description=p.kind)
    gpx.tracks.append(trk)
    seg, last_device, last_time = None, None, None
    for r in clean_fixes(p):
        gap = last_time is not None and (r["fixed_at"] - last_time).total_seconds() > MAX_SEGMENT_GAP_S
        if r["device_id"] != last_device or gap:
            seg = gpxpy.gpx.GPXTrackSegment()
            trk.segments.append(seg)
            last_device = r["device_id"]
        last_time = r["fixed_at"]
        seg.points.append(
            gpxpy.gpx.GPXTrackPoint(
                r["lat"], r["lon"], elevation=r["altitude"], time=r["fixed_at"].astimezone(dt.UTC), speed=r["speed"]
            )
        )
    return gpx.to_xml(version="1.1")
