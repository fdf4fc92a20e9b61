"""OGC API - Features collections: the published layers that have a geometry, and their extents.

Pages and features are read by :mod:`app.ogcapi.provider`, restricted to the public properties of
:mod:`app.basemap.public` and to the user's area.
"""
import datetime as dt

from sqlalchemy import and_, func, select

from app.auth.policy import Scope
from app.basemap.public import PUBLIC_LAYERS, PublicLayer, get_public_layer
from app.basemap.services import layer_conditions, table_of
from app.core.extensions import db
from app.core.time import TZ

WORLD = [-180.0, -90.0, 180.0, 90.0]


def collections() -> list[PublicLayer]:
    """The published layers that have a geometry, in registry order."""
    return [p for p in PUBLIC_LAYERS.values() if p.layer is not None and p.layer.geom_type]


def get_collection(name: str) -> PublicLayer | None:
    """A collection by id, or None."""
    public = get_public_layer(name)
    return public if public is not None and public.layer.geom_type else None


def extent(public: PublicLayer, scope: Scope) -> dict:
    """``extent`` of a collection over what ``scope`` may see: bbox from PostGIS, and the time span."""
    t = table_of(public.layer)
    ext = func.ST_Extent(t.c.geom)
    cols = [func.ST_XMin(ext), func.ST_YMin(ext), func.ST_XMax(ext), func.ST_YMax(ext)]
    if public.time_column:
        cols += [func.min(t.c[public.time_column]), func.max(t.c[public.time_column])]
    row = db.session.execute(select(*cols).where(and_(*layer_conditions(public.layer, t, scope)))).one()
    bbox = WORLD if row[0] is None else [round(float(v), 7) for v in row[:4]]
    result = {"spatial": {"bbox": [bbox], "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}}
    if public.time_column:
        span = [_instant(v, end=i == 1) for i, v in enumerate(row[4:6])]
        result["temporal"] = {"interval": [span], "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"}
    return result


def _instant(value, end: bool = False) -> str | None:
    """RFC 3339 date-time for an extent: a date column's day spans local (Asia/Shanghai) time."""
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time(23, 59, 59) if end else dt.time(0), tzinfo=TZ)
    return value.isoformat()
