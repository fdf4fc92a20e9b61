"""Where a POSTed request lies: ``lat`` + ``long``, or ``address_string`` found on the base map, and in
an area this deployment serves (otherwise nobody's staff could open it: the request is refused).

``address_string`` alone (no coordinates) is looked up among the base map's buildings, then compounds,
by name or address: an exact match before a partial one. When nothing matches, or the best matches
are several places, the request is refused (400) and the client is asked for ``lat`` and ``long``;
there is no outside geocoder. With coordinates, ``address_string`` is only the address text.
``address_id`` is not supported.
"""

from sqlalchemy import func, literal, or_, select, union_all

from app.basemap.models import Building, Compound
from app.core.extensions import db
from app.core.sql import like_escape
from app.incidents import services as incidents
from app.open311.errors import Open311Error


def _candidates(address: str):
    text = address.strip()
    pattern = "%" + like_escape(text) + "%"
    parts = []
    for offset, table in ((0, Building), (1, Compound)):
        exact = or_(func.lower(table.name) == text.lower(), func.lower(table.address) == text.lower())
        partial = or_(table.name.ilike(pattern, escape="\\"), table.address.ilike(pattern, escape="\\"))
        parts.append(select(table.geom, literal(1 + offset).label("rank")).where(exact))
        parts.append(select(table.geom, literal(3 + offset).label("rank")).where(partial, ~exact))
    return union_all(*parts).subquery()


def locate_address(address: str) -> list[tuple[float, float]]:
    """Points for ``address`` on the base map: one when it names one place, several when the best
    matches are several places, none when nothing matches."""
    places = _candidates(address)
    spot = func.ST_PointOnSurface(places.c.geom)
    best = select(func.min(places.c.rank)).scalar_subquery()
    rows = db.session.execute(select(func.ST_X(spot), func.ST_Y(spot)).where(places.c.rank == best).limit(2))
    return [(r[0], r[1]) for r in rows]


def place(lat: float | None, lon: float | None, address: str | None) -> tuple[float, float]:
    """(lon, lat) of a POSTed request, inside the served areas, or an Open311 error (400)."""
    if lat is not None or lon is not None:
        if lat is None or lon is None:
            raise Open311Error(400, "lat and long must both be decimal degrees")
        point = (lon, lat)
    elif address:
        found = locate_address(address)
        if not found:
            raise Open311Error(400, "address_string could not be located on the base map; send lat and long")
        if len(found) > 1:
            raise Open311Error(
                400,
                "address_string matches several places on the base map; send lat and long, or a more precise address",
            )
        point = found[0]
    else:
        raise Open311Error(400, "a location is required: lat and long, or address_string")
    if not incidents.in_served_area(*point):
        raise Open311Error(
            400,
            f"the location (lat {point[1]:.6f}, long {point[0]:.6f}) lies outside the areas "
            "served here; nothing was recorded",
        )
    return point
