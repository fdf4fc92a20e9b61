"""Read-only queries behind the map and list pages; the rows come from the layer API's services.

Everything is scoped like the API (``app.basemap.services.list_features``), so a page
never shows what ``/api/v1`` would refuse.
"""

import json
from dataclasses import dataclass

from sqlalchemy import text

from app.auth.policy import Scope, in_scope_code
from app.basemap import services as api
from app.basemap.layers import LAYERS, Layer
from app.core.extensions import db

CSV_PAGE = 5000


def area_extent(scope: Scope) -> tuple[float, float, float, float] | None:
    """(minLon, minLat, maxLon, maxLat) of the user's area, or of every area for admins."""
    if not scope.everything and (scope.area_id is None or scope.area_id < 0):
        return None
    row = db.session.execute(
        text(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)"
            " FROM (SELECT ST_Extent(geom) AS e FROM areas WHERE :everything OR id = :area_id) s"
        ),
        {"everything": scope.everything, "area_id": scope.area_id or -1},
    ).one()
    return None if row[0] is None else tuple(float(v) for v in row)


@dataclass
class Page:
    """One page of a layer's list."""

    rows: list[dict]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _rows(features_json: str) -> list[dict]:
    return [
        {"id": f["id"], "geometry": f.get("geometry"), **(f.get("properties") or {})} for f in json.loads(features_json)
    ]


def layer_page(
    layer: Layer, scope: Scope, *, filters: dict, q: str | None, sort: str, page: int, per_page: int
) -> Page:
    """Rows ``page`` (1-based) of a layer as the user may see it, with the total count."""
    features, total, _ = api.list_features(
        layer, scope, filters=filters, q=q, sort=sort, limit=per_page, offset=(page - 1) * per_page
    )
    return Page(_rows(features), total, page, per_page)


def all_rows(layer: Layer, scope: Scope, *, filters: dict, q: str | None, sort: str):
    """Every row of the filtered list, fetched in pages (for CSV downloads)."""
    offset = 0
    while True:
        features, _, returned = api.list_features(
            layer, scope, filters=filters, q=q, sort=sort, limit=CSV_PAGE, offset=offset
        )
        yield from _rows(features)
        if returned < CSV_PAGE:
            return
        offset += CSV_PAGE


def area_choices(scope: Scope) -> list[tuple[str, str, str]]:
    """(code, name, level) of the streets, communities and grids inside the user's area."""
    areas = LAYERS["areas"]
    features, _, _ = api.list_features(
        areas, scope, filters={"level": ["street", "community", "grid"]}, sort="code", limit=2000
    )
    return [
        (r["code"], r["name"], r["level"])
        for r in _rows(features)
        if in_scope_code(scope, r["code"]) or scope.area_code == r["code"]
    ]


def ref_choices(table: str, scope: Scope) -> list[tuple[int, str]]:
    """(id, name) of the visible rows of the layer stored in ``table`` (for a reference filter)."""
    layer = next((l for l in LAYERS.values() if l.table == table and not l.base_where), None)
    if layer is None or not layer.field("name"):
        return []
    features, _, _ = api.list_features(layer, scope, sort="name", limit=2000)
    return [(r["id"], r["name"]) for r in _rows(features)]
