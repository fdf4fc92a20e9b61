"""E-bike demand per building (需求): surveyed where a survey exists, estimated from households otherwise.

A building's surveyed e-bikes are its latest building-wide survey, or else the sum of the latest survey
of each household in it, or else the base map's ``ebikes`` field (a survey imported as a layer). A building without any survey gets an **estimate**: its households (the base
map's ``households`` field, else its household files) times the e-bikes per household measured by the
surveys of the same community (surveyed e-bikes ÷ households of surveyed buildings); a community with no
survey yet uses the whole area's rate, and an area with none at all :data:`DEFAULT_PER_HOUSEHOLD`.
Estimates are rounded to whole bikes and always marked ``estimated``.

Hazard reports: e-bike charging incidents (``ebike.*``, not rejected nor duplicates) reported within
:data:`HAZARD_REACH_M` of the building in the last year — a hazard ticked in a survey is one of them (the
survey reports it), so it is counted once.
"""

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Float, cast, func, select, text
from sqlalchemy.orm import aliased

from app.areas.models import Area
from app.basemap.models import Building
from app.core.extensions import db
from app.core.time import now
from app.households.stats import files_per_building
from app.incidents.services import category_points
from app.planning.areas import inside

DEFAULT_PER_HOUSEHOLD = 0.5  # e-bikes per household before any survey: a planner's assumption, shown as such
HAZARD_REACH_M = 30
HAZARD_CATEGORIES = ("ebike",)

_LATEST = text("""
    SELECT building_id,
           COALESCE(max(ebikes) FILTER (WHERE household_id IS NULL), sum(ebikes)) AS ebikes,
           max(surveyed_on) AS surveyed_on
    FROM (SELECT DISTINCT ON (building_id, COALESCE(household_id, 0)) building_id, household_id, ebikes, surveyed_on
          FROM ebike_surveys WHERE building_id = ANY(:ids)
          ORDER BY building_id, COALESCE(household_id, 0), surveyed_on DESC, id DESC) latest
    GROUP BY building_id
""")


@dataclass
class Demand:
    """One building's demand: a point (PostGIS ``ST_PointOnSurface``), its e-bikes and hazard reports."""

    building_id: int
    name: str | None
    lon: float
    lat: float
    households: int | None
    ebikes: int
    estimated: bool
    hazards: int
    community: str | None

    @property
    def weight(self) -> int:
        return self.ebikes + self.hazards


def _buildings(area: Area) -> list:
    grid = aliased(Area)
    files = files_per_building()
    pt = func.ST_PointOnSurface(Building.geom)
    # Hazards within reach of the area's buildings lie in its streets or a neighbour's: only those shards.
    street, shape = aliased(Area), select(Area.geom).where(Area.id == area.id).scalar_subquery()
    streets = select(street.code).where(
        street.level == "street", func.ST_DWithin(func.geography(street.geom), func.geography(shape), HAZARD_REACH_M)
    )
    near = category_points(HAZARD_CATEGORIES, now() - dt.timedelta(days=365), streets)
    reports = (
        select(func.count())
        .select_from(near)
        .where(func.ST_DWithin(func.geography(near.c.geom), func.geography(Building.geom), HAZARD_REACH_M))
        .scalar_subquery()
    )
    stmt = (
        select(
            Building.id,
            Building.name,
            cast(func.ST_X(pt), Float).label("lon"),
            cast(func.ST_Y(pt), Float).label("lat"),
            func.coalesce(Building.households, files.c.households).label("households"),
            Building.ebikes,
            func.left(grid.code, 12).label("community"),
            reports.label("reports"),
        )
        .outerjoin(files, files.c.building_id == Building.id)
        .outerjoin(grid, grid.id == Building.grid_id)
        .where(inside(area, Building.grid_id, Building.geom))
        .order_by(Building.id)
    )
    return db.session.execute(stmt).all()


def _rates(rows, surveyed: dict) -> tuple[dict, float]:
    per: dict = {}
    for r in rows:
        s = surveyed.get(r.id)
        if s is not None and r.households:
            bikes, homes = per.get(r.community, (0, 0))
            per[r.community] = (bikes + s, homes + r.households)
    bikes = sum(b for b, _ in per.values())
    homes = sum(h for _, h in per.values())
    overall = bikes / homes if homes else DEFAULT_PER_HOUSEHOLD
    return {c: b / h for c, (b, h) in per.items() if h}, overall


def area_demand(area: Area) -> tuple[list[Demand], dict]:
    """Every building of ``area`` with its demand, and how the estimates were made."""
    rows = _buildings(area)
    latest = {s.building_id: int(s.ebikes) for s in db.session.execute(_LATEST, {"ids": [r.id for r in rows]})}
    surveyed = {r.id: latest.get(r.id, r.ebikes) for r in rows if r.id in latest or r.ebikes is not None}
    rates, overall = _rates(rows, surveyed)
    out = []
    for r in rows:
        s = surveyed.get(r.id)
        if s is not None:
            bikes, estimated = s, False
        else:
            bikes, estimated = round((r.households or 0) * rates.get(r.community, overall)), True
        out.append(Demand(r.id, r.name, r.lon, r.lat, r.households, bikes, estimated, r.reports, r.community))
    how = {
        "per_household": {c: round(v, 3) for c, v in rates.items()},
        "per_household_area": round(overall, 3),
        "default_used": not rates,
        "rule": "households × e-bikes per household of the community's surveyed buildings",
    }
    return out, how


def demand_summary(demand: list[Demand]) -> dict:
    """Totals of a demand list: buildings, surveyed and estimated e-bikes, hazard reports."""
    return {
        "buildings": len(demand),
        "surveyed_buildings": sum(1 for d in demand if not d.estimated),
        "ebikes": sum(d.ebikes for d in demand),
        "estimated_ebikes": sum(d.ebikes for d in demand if d.estimated),
        "hazard_reports": sum(d.hazards for d in demand),
    }
