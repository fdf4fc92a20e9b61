"""Set-based writes of many features at once (a file import): multi-row INSERTs and one area check.

The rows were parsed by :func:`app.basemap.services.parse_feature`, like any write; only layers
without ``before_write`` rules go this way (areas are checked one by one, each against those before).
"""

from geoalchemy2.shape import from_shape
from sqlalchemy import insert, select

from app.auth.policy import Scope
from app.basemap.layers import Layer
from app.basemap.services import _may_write, _write, feature_expr, inside_clause, scope_condition, table_of
from app.core.extensions import db


def writable_features(layer: Layer, scope: Scope, ids: list[int]) -> dict[int, dict]:
    """The features among ``ids`` that ``scope`` may write (inside the user's area), by id, in one query."""
    t = table_of(layer)
    rows = db.session.execute(
        select(t.c.id, feature_expr(layer, t)).where(
            t.c.id.in_(ids), scope_condition(layer, t, scope), inside_clause(layer, t, scope)
        )
    ).all()
    return {fid: f for fid, f in rows if _may_write(layer, scope, f)}


def insert_many(layer: Layer, rows: list[tuple[dict, object]]) -> list[int]:
    """Insert parsed (values, geometry) pairs set-based, in order; returns their ids.

    Only for layers without ``before_write`` rules; constraint violations raise ApiError
    without saying which row (callers fall back to :func:`insert_feature` for that).
    """
    t = db.metadata.tables[layer.table]
    ids: list[int] = []
    batch: list[dict] = []
    keys = None

    def flush():
        if batch:
            result = _write(insert(t).returning(t.c.id, sort_by_parameter_order=True), batch)
            ids.extend(result.scalars().all())
            batch.clear()

    for values, geom in rows:
        params = dict(values)
        if geom is not None:
            params["geom"] = from_shape(geom, srid=4326)
        if keys is not None and set(params) != keys:
            flush()  # one statement per run of rows with the same columns
        keys = set(params)
        batch.append(params)
        if len(batch) >= 1000:
            flush()
    flush()
    return ids
