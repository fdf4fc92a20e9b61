"""Bad-parking spots (乱停乱放点) found on bike rectification rounds, linked to the nearest bike zone.

Not personal data: places and bike counts only, shown to everyone with ``patrols.figures``.
"""

import datetime as dt

from geoalchemy2 import Geography
from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import (
    JSON,
    Numeric,
    Text,
    cast,
    func,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import aliased

from app.areas.models import Area
from app.audit.services import record, snapshot
from app.auth.policy import Scope
from app.basemap.models import BikeZone
from app.core.extensions import db
from app.patrols.access import editable
from app.patrols.models import BadParkingSpot, Patrol


def nearest_zone(lon: float, lat: float) -> tuple[int, float] | None:
    """(id, distance in metres) of the active bike zone nearest to a point, or None."""
    point = func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326)
    row = db.session.execute(
        select(BikeZone.id, func.ST_Distance(cast(BikeZone.geom, Geography), cast(point, Geography)))
        .where(BikeZone.status == "active")
        .order_by(BikeZone.geom.op("<->")(point))
        .limit(1)
    ).first()
    return (row[0], row[1]) if row else None


def new_spot(patrol_id: int, lon: float, lat: float, **values) -> BadParkingSpot:
    """A spot at (lon, lat) with its nearest zone, added to the session (not committed)."""
    zone = nearest_zone(lon, lat)
    spot = BadParkingSpot(
        patrol_id=patrol_id,
        geom=from_shape(Point(lon, lat), 4326),
        nearest_zone_id=zone[0] if zone else None,
        zone_distance_m=zone[1] if zone else None,
        **{k: v for k, v in values.items() if v is not None},
    )
    db.session.add(spot)
    return spot


def add_bad_parking(
    user,
    patrol_id: int,
    lon: float,
    lat: float,
    bikes: int = 1,
    reparked: bool = False,
    note: str | None = None,
    found_at: dt.datetime | None = None,
) -> BadParkingSpot:
    """Record a bad-parking spot on a patrol the user may change (values checked by the API's model)."""
    p = editable(user, patrol_id)
    spot = new_spot(p.id, lon, lat, bikes=bikes, reparked=bool(reparked), note=note, found_at=found_at)
    db.session.flush()
    record("insert", "bad_parking_spots", spot.id, after=snapshot(spot))
    db.session.commit()
    return spot


def _visible(scope: Scope):
    """Spots in the user's area: by the spot's grid, or by the area of its patrol."""
    areas = select(Area.id).where(Area.code.startswith(scope.area_code or "-", autoescape=True))
    return or_(
        BadParkingSpot.grid_id.in_(areas),
        BadParkingSpot.patrol_id.in_(select(Patrol.id).where(Patrol.area_id.in_(areas))),
    )


def spots_geojson(scope: Scope, patrol_id: int | None = None, bbox=None, limit: int = 1000) -> str:
    """Bad-parking spots in the user's area as a GeoJSON FeatureCollection (built by PostgreSQL)."""
    s = BadParkingSpot
    conds = [] if scope.everything else [_visible(scope)]
    if patrol_id is not None:
        conds.append(s.patrol_id == patrol_id)
    if bbox:
        conds.append(s.geom.op("&&")(func.ST_MakeEnvelope(*bbox, 4326)))
    page = select(s).where(*conds).order_by(s.id.desc()).limit(limit).subquery()
    grid = aliased(Area)
    props = func.json_build_object(
        literal("patrol_id"),
        page.c.patrol_id,
        literal("found_at"),
        page.c.found_at,
        literal("bikes"),
        page.c.bikes,
        literal("reparked"),
        page.c.reparked,
        literal("note"),
        page.c.note,
        literal("nearest_zone"),
        BikeZone.name,
        literal("zone_distance_m"),
        func.round(cast(page.c.zone_distance_m, Numeric), 1),
        literal("grid"),
        grid.code,
    )
    feature = func.json_build_object(
        literal("type"),
        literal("Feature"),
        literal("id"),
        page.c.id,
        literal("geometry"),
        cast(func.ST_AsGeoJSON(page.c.geom, 7), JSON),
        literal("properties"),
        props,
    )
    features = func.coalesce(func.json_agg(aggregate_order_by(feature, page.c.id)), literal_column("'[]'::json"))
    stmt = select(
        cast(func.json_build_object(literal("type"), literal("FeatureCollection"), literal("features"), features), Text)
    ).select_from(
        page.outerjoin(BikeZone, BikeZone.id == page.c.nearest_zone_id).outerjoin(grid, grid.id == page.c.grid_id)
    )
    return db.session.execute(stmt).scalar()


def spot_points(since: dt.datetime):
    """A subquery of bad-parking spots found since ``since``: ``id``, ``geom``, ``bikes``, ``found_at``
    (for planning's bike-zone gaps; places and counts only)."""
    s = BadParkingSpot
    return select(s.id, s.geom, s.bikes, s.found_at).where(s.found_at >= since).subquery()
