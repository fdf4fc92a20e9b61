"""The live map: each active patrol's devices, their last position and recent trail, and SOS alarms
(features of ``kind`` ``sos``, first, so that the feature cap never hides one). An alarm stays until
staff acknowledge it (:mod:`app.patrols.alarms`), whatever its age or the map's box, so that the page
can count and show every one."""

from sqlalchemy import select, text

from app.core.extensions import db
from app.core.time import TZ_NAME
from app.patrols.access import require_track_reader, visible_clause
from app.patrols.alarms import open_alarm_ids
from app.patrols.models import Patrol

_LIVE_SQL = text("""
WITH act AS (
    SELECT p.id, p.title, p.kind, p.started_at FROM patrols p WHERE p.state = 'active' AND p.id = ANY(:ids)
), last AS (
    SELECT DISTINCT ON (pos.device_id) pos.device_id, pos.patrol_id, pos.user_id, pos.fixed_at, pos.geom,
           pos.accuracy, pos.battery
    FROM positions pos JOIN act ON act.id = pos.patrol_id
    WHERE pos.fixed_at >= now() - make_interval(mins => :minutes)
    ORDER BY pos.device_id, pos.fixed_at DESC
), trail AS (
    SELECT pos.device_id, ST_MakeLine(pos.geom ORDER BY pos.fixed_at) AS line
    FROM positions pos JOIN act ON act.id = pos.patrol_id
    WHERE pos.fixed_at >= now() - make_interval(mins => :minutes)
    GROUP BY pos.device_id HAVING count(*) >= 2
)
SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(f), '[]'::json))::text FROM (
    SELECT json_build_object('type', 'Feature', 'id', 'sos-' || e.id, 'geometry', ST_AsGeoJSON(e.geom, 6)::json,
        'properties', json_build_object('kind', 'sos', 'event_id', e.id, 'patrol_id', e.patrol_id,
            'patrol', p.title, 'patrol_kind', p.kind, 'who', coalesce(u.display_name, u.username),
            'alarm', e.detail, 'fixed_at', to_char(e.happened_at AT TIME ZONE :tz, 'YYYY-MM-DD HH24:MI:SS'),
            'lon', round(ST_X(e.geom)::numeric, 6), 'lat', round(ST_Y(e.geom)::numeric, 6), 'place', g.name)) AS f
    FROM device_events e JOIN users u ON u.id = e.user_id LEFT JOIN patrols p ON p.id = e.patrol_id
    LEFT JOIN LATERAL (SELECT a.name FROM areas a WHERE a.level = 'grid' AND ST_Intersects(a.geom, e.geom)
                       ORDER BY a.code LIMIT 1) g ON true
    WHERE e.id = ANY(:alarms) AND e.geom IS NOT NULL
    UNION ALL
    SELECT json_build_object('type', 'Feature', 'geometry', ST_AsGeoJSON(l.geom, 6)::json,
        'properties', json_build_object('kind', 'position', 'patrol_id', a.id, 'patrol', a.title,
            'patrol_kind', a.kind, 'who', u.display_name, 'fixed_at',
            to_char(l.fixed_at AT TIME ZONE :tz, 'YYYY-MM-DD HH24:MI:SS'),
            'accuracy', round(l.accuracy::numeric, 0), 'battery', round(l.battery::numeric, 0))) AS f
    FROM last l JOIN act a ON a.id = l.patrol_id JOIN users u ON u.id = l.user_id
    WHERE CAST(:x0 AS float8) IS NULL OR l.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)
    UNION ALL
    SELECT json_build_object('type', 'Feature', 'geometry', ST_AsGeoJSON(ST_Simplify(t.line, 0.00001), 6)::json,
        'properties', json_build_object('kind', 'trail', 'patrol_id', l.patrol_id))
    FROM trail t JOIN last l ON l.device_id = t.device_id
    WHERE CAST(:x0 AS float8) IS NULL OR t.line && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)
    LIMIT :limit
) x
""")


def live_geojson(user, bbox=None, minutes: int = 30, limit: int = 2000) -> str:
    """Active patrols the user may see: each device's last position and its trail of the last ``minutes``."""
    require_track_reader(user)
    ids = list(db.session.scalars(select(Patrol.id).where(Patrol.state == "active", visible_clause(user))))
    x0, y0, x1, y1 = bbox or (None, None, None, None)
    params = {"ids": ids, "alarms": open_alarm_ids(user), "minutes": minutes, "limit": limit, "tz": TZ_NAME}
    return db.session.execute(_LIVE_SQL, {**params, "x0": x0, "y0": y0, "x1": x1, "y1": y1}).scalar()


_MATES_SQL = text("""
WITH mine AS (
    SELECT p.id FROM patrols p
    WHERE p.state = 'active' AND (p.created_by = :uid OR EXISTS (
        SELECT 1 FROM patrol_participants pp WHERE pp.patrol_id = p.id AND pp.user_id = :uid))
    ORDER BY p.started_at DESC LIMIT 1
)
SELECT DISTINCT ON (pos.user_id) pos.user_id, u.username, u.display_name, d.identifier, pos.fixed_at,
       ST_Y(pos.geom) AS lat, ST_X(pos.geom) AS lon, pos.accuracy, pos.battery
FROM positions pos JOIN mine ON mine.id = pos.patrol_id
JOIN users u ON u.id = pos.user_id JOIN devices d ON d.id = pos.device_id
WHERE pos.user_id <> :uid AND pos.fixed_at >= now() - interval '12 hours'
ORDER BY pos.user_id, pos.fixed_at DESC
""")


def patrol_mates(user_id: int) -> list[dict]:
    """The last position of each other member of the user's open patrol (what OwnTracks shows as friends)."""
    return [dict(r) for r in db.session.execute(_MATES_SQL, {"uid": user_id}).mappings()]
