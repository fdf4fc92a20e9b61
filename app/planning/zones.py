"""Bike-zone gaps (共享单车停放区缺口): where bikes are parked badly again and again, far from any zone.

The points are the bad-parking spots of rectification patrols (:mod:`app.patrols.parking`) and the
reports of the bike categories (``bikes.*``, :mod:`app.incidents`) in the area over the last ``days``.
They are clustered with PostGIS ``ST_ClusterDBSCAN`` **in metres**: the points are transformed to the
UTM zone of the area (EPSG:326xx, 32648 for Lanzhou) so that ``eps`` is a distance in metres.
A cluster whose hull lies farther than ``threshold_m`` (geography metres) from every bike zone that
is not closed becomes a suggested zone: the cluster's convex hull buffered so that its area holds
its bikes (capacity = bikes found × 1.2, :data:`M2_PER_BIKE` m² a bike). A zone is flagged over
capacity when, on one day, more bikes were found parked badly within ``threshold_m`` of it than it holds.
"""

import datetime as dt
import json

from shapely.geometry import MultiPolygon, shape
from sqlalchemy import func, select, text

from app.areas.models import Area
from app.audit.services import record
from app.auth import policy
from app.basemap.layers import get_layer
from app.basemap.services import insert_feature
from app.core.errors import ApiError
from app.core.extensions import db
from app.core.time import TZ_NAME, now
from app.incidents.services import category_points
from app.patrols.parking import spot_points
from app.planning.areas import area_in_reach

M2_PER_BIKE = 1.2
HEADROOM = 1.2
BIKE_CATEGORIES = ("bikes",)

_CLUSTERS = text("""
    WITH a AS (SELECT geom, 32600 + floor((ST_X(ST_Centroid(geom)) + 180) / 6)::int + 1 AS srid
               FROM areas WHERE id = :area_id),
    pts AS (SELECT p.geom, p.bikes, p.found_at FROM (SELECT ST_SetSRID(ST_MakePoint(lon, lat), 4326) geom, bikes, found_at
    FROM unnest(CAST(:lon AS float8[]), CAST(:lat AS float8[]), CAST(:bikes AS int[]), CAST(:found AS timestamptz[]))
         AS t(lon, lat, bikes, found_at)) p, a),
    m AS (SELECT ST_Transform(pts.geom, a.srid) g, pts.bikes, pts.found_at, a.srid FROM pts, a),
    c AS (SELECT g, bikes, srid, ST_ClusterDBSCAN(g, eps => :eps, minpoints => :min_points) OVER () cid FROM m),
    k AS (SELECT cid, count(*) n, sum(bikes) bikes, min(srid) srid, ST_ConvexHull(ST_Collect(g)) hull
          FROM c WHERE cid IS NOT NULL GROUP BY cid),
    z AS (SELECT k.*, ceil(k.bikes * :headroom)::int capacity,
                 (SELECT min(ST_Distance(bz.geom::geography, ST_Transform(k.hull, 4326)::geography))
                  FROM bike_zones bz WHERE bz.status <> 'closed') zone_m
          FROM k)
    SELECT cid, n, bikes, capacity, zone_m,
           ST_AsGeoJSON(ST_Transform(ST_Buffer(hull, greatest(3, sqrt(capacity * :m2 / pi()))), 4326), 7) geom
    FROM z WHERE zone_m IS NULL OR zone_m > :threshold ORDER BY bikes DESC, cid
""")

_OVERFULL = text("""
    WITH pts AS (SELECT ST_SetSRID(ST_MakePoint(lon, lat), 4326) geom, bikes, found_at
    FROM unnest(CAST(:lon AS float8[]), CAST(:lat AS float8[]), CAST(:bikes AS int[]), CAST(:found AS timestamptz[]))
         AS t(lon, lat, bikes, found_at))
    SELECT bz.id, bz.name, bz.capacity, max(day_bikes) most
    FROM bike_zones bz, areas a,
    LATERAL (SELECT sum(p.bikes) day_bikes FROM pts p
             WHERE ST_DWithin(bz.geom::geography, p.geom::geography, :threshold)
             GROUP BY (p.found_at AT TIME ZONE :tz)::date) d
    WHERE a.id = :area_id AND bz.status <> 'closed' AND ST_Intersects(bz.geom, a.geom)
    GROUP BY bz.id HAVING max(day_bikes) > bz.capacity ORDER BY bz.id
""")


_ZONES = text("""
    SELECT bz.id, bz.name, bz.capacity, bz.status, ST_AsGeoJSON(bz.geom, 7) geom FROM bike_zones bz, areas a
    WHERE a.id = :area_id AND bz.status <> 'closed' AND ST_Intersects(bz.geom, a.geom) ORDER BY bz.id
""")


def _points(area: Area, days: int) -> dict:
    """The area's bad-parking spots and bike reports of the period, as arrays (unnested by the SQL)."""
    since = now() - dt.timedelta(days=days)
    rows = []
    for sub in (spot_points(since), category_points(BIKE_CATEGORIES, since)):
        rows += db.session.execute(
            select(func.ST_X(sub.c.geom), func.ST_Y(sub.c.geom), sub.c.bikes, sub.c.found_at).where(
                func.ST_Intersects(sub.c.geom, select(Area.geom).where(Area.id == area.id).scalar_subquery())
            )
        ).all()
    return {
        "lon": [r[0] for r in rows],
        "lat": [r[1] for r in rows],
        "bikes": [r[2] for r in rows],
        "found": [r[3] for r in rows],
    }


def gaps(area: Area, eps_m: float, min_points: int, threshold_m: float, days: int) -> dict:
    """Suggested zones and overfull zones of ``area`` (see the module's docstring)."""
    params = _points(area, days)
    params.update(
        area_id=area.id,
        eps=eps_m,
        min_points=min_points,
        threshold=threshold_m,
        headroom=HEADROOM,
        m2=M2_PER_BIKE,
        tz=TZ_NAME,
    )
    clusters = db.session.execute(_CLUSTERS, params).all()
    overfull = db.session.execute(_OVERFULL, params).all()
    over = {r.id for r in overfull}
    zones = db.session.execute(_ZONES, {"area_id": area.id}).all()
    return {
        "method": "ST_ClusterDBSCAN in metres (points transformed to the area's UTM zone); distances to zones in "
        "geography metres",
        "suggested": [
            {
                "cluster": r.cid,
                "points": r.n,
                "bikes": int(r.bikes),
                "capacity": r.capacity,
                "nearest_zone_m": round(r.zone_m, 1) if r.zone_m is not None else None,
                "geometry": json.loads(r.geom),
            }
            for r in clusters
        ],
        "points": len(params["lon"]),
        "zones": [
            {
                "id": z.id,
                "name": z.name,
                "capacity": z.capacity,
                "status": z.status,
                "over": z.id in over,
                "geometry": json.loads(z.geom),
            }
            for z in zones
        ],
        "over_capacity": [
            {"id": r.id, "name": r.name, "capacity": r.capacity, "most_bikes_in_a_day": int(r.most)} for r in overfull
        ],
    }


def zone_gaps(user, area_code: str, **params) -> dict:
    """:func:`gaps` for an area in the user's reach."""
    return gaps(area_in_reach(policy.scope_of(user), area_code), **params)


def gaps_geojson(result: dict) -> str:
    """The suggestions as GeoJSON (one polygon each, with its numbers)."""
    feats = [
        {"type": "Feature", "geometry": s["geometry"], "properties": {k: v for k, v in s.items() if k != "geometry"}}
        for s in result["suggested"]
    ]
    return json.dumps({"type": "FeatureCollection", "features": feats}, ensure_ascii=False)


def make_zone(user, area_code: str, cluster: int, name: str | None = None, **params) -> dict:
    """Turn one suggestion into a bike zone with status ``planned`` (audited, one transaction)."""
    scope = policy.scope_of(user)
    area = area_in_reach(scope, area_code)
    found = next((s for s in gaps(area, **params)["suggested"] if s["cluster"] == cluster), None)
    if found is None:
        raise ApiError(422, f"no suggested zone {cluster} with these parameters", {"cluster": "no such suggestion"})
    geom = shape(found["geometry"])
    geom = geom if isinstance(geom, MultiPolygon) else MultiPolygon([geom])
    values = {
        "name": name or f"{area.name}建议停放区{cluster + 1}",
        "capacity": max(1, found["capacity"]),
        "kind": "shared_bike",
        "status": "planned",
    }
    try:
        feature = insert_feature(get_layer("bike-zones"), scope, values, geom)
        record("make_zone", "bike_zones", feature["id"], after={"from_cluster": cluster, **params}, user_id=user.id)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return feature
