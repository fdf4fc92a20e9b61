"""The open incidents as a tile layer (``/tiles/incidents/{z}/{x}/{y}.mvt``): the map page's overlay.

The same rows as the overlay's GeoJSON (``/api/v1/incidents?open=true``): open incidents in the user's
area (:func:`app.incidents.services.queries.filter_conditions`, whose first condition is the area of
:mod:`app.auth.policy`). A tile carries only what the map draws — the id, the state (its colour) and
the category code — never a description, an address or anything of the reporter; a click fetches the
incident from the API, which decides what that user may read. Where open incidents are too dense for
whole features (a district at z10), tiles carry counts per cell, as the base-map layers do: the plan
is measured on the open incidents of the whole table (:func:`app.tiles.plan.measured_plan`).
Not cached by data version (incidents have none): each tile is built from the table as it is.
"""

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, select

from app.auth.policy import Scope
from app.core.extensions import db
from app.incidents.models import OPEN_STATES, Incident, IncidentCategory
from app.incidents.services.queries import Filters, filter_conditions
from app.tiles.plan import NATIVE_MAX_ZOOM, Plan, densest_by_centre, measured_plan
from app.tiles.sources import TileSource

NAME = "incidents"
FIELDS = {"state": "String", "category": "String"}


def _conditions(scope: Scope) -> list:
    return filter_conditions(scope, Filters(open=True))


def rows(scope: Scope, envelope, z: int):
    """Open incidents in ``scope`` whose point lies in ``envelope`` (EPSG:4326): id, geom, state, category."""
    return (
        select(
            Incident.id.label("id"),
            Incident.geom.label("geom"),
            Incident.state.label("state"),
            IncidentCategory.code.label("category"),
        )
        .join(IncidentCategory, IncidentCategory.id == Incident.category_id)
        .where(Incident.geom.op("&&")(envelope), *_conditions(scope))
    )


def bounds(scope: Scope):
    ext = func.ST_Extent(Incident.geom)
    row = db.session.execute(
        select(func.ST_XMin(ext), func.ST_YMin(ext), func.ST_XMax(ext), func.ST_YMax(ext)).where(
            and_(*_conditions(scope))
        )
    ).one()
    return None if row[0] is None else tuple(float(v) for v in row)


def plan() -> Plan:
    return measured_plan(
        NAME, 0, lambda zooms: densest_by_centre(Incident.geom, [Incident.state.in_(OPEN_STATES)], zooms)
    )


SOURCE = TileSource(
    NAME,
    _l("未结事件"),
    rows,
    FIELDS,
    min_zoom=0,
    max_zoom=NATIVE_MAX_ZOOM,
    bounds=bounds,
    description="open incidents in your area: id, state and category only",
    plan=plan,
)
