"""Candidate charger sites: drawn by the planner, or generated, and today's chargers.

Generated candidates (both in PostGIS, deterministic):

* **building entrances** — for each building, the point of its outline nearest to its compound's centre
  (the side facing the yard, where residents park); a building outside any compound: the point of its
  outline nearest to its own centre;
* **compound open spaces** — points of a :data:`OPEN_SPACE_STEP_M` metre grid inside each compound that
  lie at least :data:`CLEARANCE_M` metres from every building.

Distances between buildings and sites are straight-line geography metres (``ST_Distance`` on
``geography``): the base map has no path network, so walking distances are not available.
"""

from dataclasses import dataclass

from sqlalchemy import text

from app.areas.models import Area
from app.core.extensions import db

OPEN_SPACE_STEP_M = 30
CLEARANCE_M = 5
DEFAULT_PORTS = 10
MAX_CANDIDATES = 3000
DISTANCE_RULE = "straight-line geography metres (ST_Distance on geography); no path network in the data"

_ENTRANCES = text("""
    WITH b AS (SELECT b.* FROM buildings b, areas a
    WHERE a.id = :area_id AND (
        b.grid_id IN (SELECT id FROM areas WHERE code LIKE a.code || '%')
        OR (b.grid_id IS NULL AND ST_Intersects(b.geom, a.geom))))
    SELECT b.id, ST_X(p) AS lon, ST_Y(p) AS lat FROM b
    LEFT JOIN compounds c ON c.id = b.compound_id,
    LATERAL ST_ClosestPoint(ST_Boundary(b.geom), ST_Centroid(COALESCE(c.geom, b.geom))) p
    ORDER BY b.id
""")

_OPEN_SPACES = text("""
    WITH c AS (
        SELECT c.id, c.geom, ST_XMin(c.geom) x0, ST_XMax(c.geom) x1, ST_YMin(c.geom) y0, ST_YMax(c.geom) y1,
               cos(radians(ST_Y(ST_Centroid(c.geom)))) k
        FROM compounds c, areas a WHERE a.id = :area_id AND ST_Within(ST_Centroid(c.geom), a.geom))
    SELECT c.id, ST_X(p) AS lon, ST_Y(p) AS lat FROM c,
    LATERAL generate_series(c.x0::numeric, c.x1::numeric, (:step / (111320 * c.k))::numeric) x,
    LATERAL generate_series(c.y0::numeric, c.y1::numeric, (:step / 111320.0)::numeric) y,
    LATERAL ST_SetSRID(ST_MakePoint(x::float8, y::float8), 4326) p
    WHERE ST_Contains(c.geom, p)
      AND NOT EXISTS (SELECT 1 FROM buildings b
                      WHERE ST_DWithin(b.geom::geography, p::geography, :clearance))
    ORDER BY c.id, y, x
""")

_TODAY = text("""
    SELECT ch.id, ch.name, ch.ports, ST_X(ch.geom) AS lon, ST_Y(ch.geom) AS lat FROM chargers ch, areas a
    WHERE a.id = :area_id AND ch.status = 'installed' AND ST_Intersects(ch.geom, a.geom)
    ORDER BY ch.id
""")

_INSIDE = text("""
    SELECT i - 1 FROM unnest(CAST(:lon AS float8[]), CAST(:lat AS float8[])) WITH ORDINALITY AS s(lon, lat, i), areas a
    WHERE a.id = :area_id AND NOT ST_Intersects(a.geom, ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326))
""")

_PAIRS = text("""
    WITH d AS (SELECT lon, lat, i FROM unnest(CAST(:dlon AS float8[]), CAST(:dlat AS float8[]))
               WITH ORDINALITY AS t(lon, lat, i)),
         s AS (SELECT lon, lat, i FROM unnest(CAST(:slon AS float8[]), CAST(:slat AS float8[]))
               WITH ORDINALITY AS t(lon, lat, i))
    SELECT d.i - 1, s.i - 1,
           ST_Distance(ST_MakePoint(d.lon, d.lat)::geography, ST_MakePoint(s.lon, s.lat)::geography)
    FROM d JOIN s ON ST_DWithin(ST_MakePoint(d.lon, d.lat)::geography, ST_MakePoint(s.lon, s.lat)::geography,
                                :radius)
""")


@dataclass
class Candidate:
    """A place a charger could stand: ``kind`` is ``existing``, ``entrance``, ``open_space`` or ``drawn``."""

    lon: float
    lat: float
    kind: str
    ports: int = DEFAULT_PORTS
    name: str | None = None
    ref: int | None = None  # the charger, building or compound it comes from


def today_chargers(area: Area) -> list[Candidate]:
    """The installed chargers inside ``area`` (kept in every plan, compared against)."""
    rows = db.session.execute(_TODAY, {"area_id": area.id})
    return [Candidate(r.lon, r.lat, "existing", r.ports, r.name, r.id) for r in rows]


def generated(area: Area) -> list[Candidate]:
    """Building entrances and compound open spaces of ``area`` (see the module's docstring)."""
    out = [Candidate(r.lon, r.lat, "entrance", ref=r.id) for r in db.session.execute(_ENTRANCES, {"area_id": area.id})]
    params = {"area_id": area.id, "step": OPEN_SPACE_STEP_M, "clearance": CLEARANCE_M}
    out += [Candidate(r.lon, r.lat, "open_space", ref=r.id) for r in db.session.execute(_OPEN_SPACES, params)]
    return out


def outside(area: Area, sites: list) -> list[int]:
    """Indices of drawn ``sites`` (with ``lon``/``lat``) that lie outside ``area``."""
    if not sites:
        return []
    params = {"area_id": area.id, "lon": [s.lon for s in sites], "lat": [s.lat for s in sites]}
    return sorted(i for (i,) in db.session.execute(_INSIDE, params))


def pairs_within(demand: list, sites: list[Candidate], radius: float) -> dict[tuple[int, int], float]:
    """``{(demand index, site index): metres}`` for every pair within ``radius`` (PostGIS geography)."""
    params = {
        "dlon": [d.lon for d in demand],
        "dlat": [d.lat for d in demand],
        "slon": [s.lon for s in sites],
        "slat": [s.lat for s in sites],
        "radius": radius,
    }
    return {(d, s): float(m) for d, s, m in db.session.execute(_PAIRS, params)}
