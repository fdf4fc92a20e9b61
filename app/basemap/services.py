"""Reading and writing layer features, with the JSON built by PostgreSQL.

Lists are one query that returns the FeatureCollection's ``features`` array as
JSON text (``json_agg`` of ``json_build_object``), so Python never walks rows.
"""

import json
from contextlib import contextmanager

from geoalchemy2.shape import from_shape
from sqlalchemy import (
    JSON,
    Table,
    Text,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    literal_column,
    select,
    text,
    true,
    update,
)
from sqlalchemy.exc import DataError, IntegrityError

from app.areas.models import Area
from app.areas.services import CONTAINMENT_TOLERANCE_M
from app.audit.services import record
from app.auth.policy import Scope, area_clause, grid_clause
from app.basemap import schemas
from app.basemap.layers import Layer
from app.core.errors import ApiError
from app.core.extensions import db
from app.core.sql import like_escape

MAX_LIMIT = 10000
MAX_ID = 2**63 - 1
DEFAULT_LIMIT = 1000


def table_of(layer: Layer) -> Table:
    """The SQLAlchemy table of a layer, aliased ``t`` for computed expressions."""
    return db.metadata.tables[layer.table].alias("t")


def _properties(layer: Layer, t):
    args = []
    for f in layer.fields:
        if f.col in t.c:
            args += [literal(f.name), t.c[f.col]]
    if "grid_id" in t.c:
        args += [literal("grid_id"), t.c.grid_id]
    for name, expr in layer.computed.items():
        args += [literal(name), literal_column(expr)]
    return func.json_build_object(*args)


def _chosen_properties(properties: dict[str, str]):
    args = []
    for name, expr in properties.items():
        args += [literal(name), literal_column(expr)]
    return func.json_build_object(*args)


def feature_expr(layer: Layer, t, properties: dict[str, str] | None = None):
    """SQL for one GeoJSON Feature of ``layer``; ``properties`` (name → SQL over ``t``) replaces
    the layer's own attributes, e.g. for the public, non-personal view of tiles and OGC API."""
    geometry = cast(func.ST_AsGeoJSON(t.c.geom, 7), JSON) if layer.geom_type else literal_column("NULL::json")
    props = _properties(layer, t) if properties is None else _chosen_properties(properties)
    return func.json_build_object(
        literal("type"),
        literal("Feature"),
        literal("id"),
        t.c.id,
        literal("geometry"),
        geometry,
        literal("properties"),
        props,
    )


def scope_condition(layer: Layer, t, scope: Scope):
    """What part of the layer ``scope`` may see."""
    if layer.scope == "grid":
        return grid_clause(scope, t.c.grid_id, t.c.geom if layer.geom_type else None)
    if layer.scope == "area":
        return area_clause(scope, t.c.code)
    return literal(True)


def layer_conditions(layer: Layer, t, scope: Scope) -> list:
    """The conditions every read of ``layer`` carries: the user's area and the layer's fixed filter."""
    return [scope_condition(layer, t, scope)] + _filter_conditions(layer, t, {}, None, None)


def base_conditions(layer: Layer) -> list:
    """The layer's fixed condition (SQL over the table aliased ``t``), e.g. the levels of /grids."""
    return [text(layer.base_where)] if layer.base_where else []


def _filter_conditions(layer: Layer, t, filters: dict, bbox, q: str | None):
    conds = base_conditions(layer)
    if bbox is not None and layer.geom_type:
        conds.append(t.c.geom.op("&&")(func.ST_MakeEnvelope(*bbox, 4326)))
    for name, values in filters.items():
        if name == "area":
            grids = select(Area.id).where(Area.code.startswith(values, autoescape=True))
            if layer.scope == "area":
                conds.append(t.c.code.startswith(values, autoescape=True))
            elif "grid_id" in t.c:
                conds.append(t.c.grid_id.in_(grids))
            continue
        f = layer.field(name)
        conds.append(t.c[f.col].in_(values))
    if q and layer.searchable:
        conds.append(t.c[layer.searchable].ilike("%" + like_escape(q) + "%"))
    return conds


def list_features(
    layer: Layer,
    scope: Scope,
    *,
    bbox=None,
    filters=None,
    q=None,
    limit=DEFAULT_LIMIT,
    offset=0,
    sort="id",
    properties: dict[str, str] | None = None,
    conditions=None,
    count: bool = True,
) -> tuple[str, int | None, int]:
    """(features JSON text, numberMatched, numberReturned) for one page of a layer.

    ``properties`` replaces the layer's attributes (see :func:`feature_expr`); ``conditions`` is a
    function ``t -> [conditions]`` adding conditions over the table; with ``count=False`` no
    ``COUNT(*)`` is run and numberMatched is None unless the page itself shows it.
    """
    t = table_of(layer)
    conds = [scope_condition(layer, t, scope)] + _filter_conditions(layer, t, filters or {}, bbox, q)
    if conditions is not None:
        conds += conditions(t)
    where = and_(*conds)
    desc = sort.startswith("-")
    col = t.c[sort.lstrip("-")]
    order = [col.desc().nulls_last() if desc else col.asc().nulls_last(), t.c.id]
    page = (
        select(feature_expr(layer, t, properties).label("f"))
        .where(where)
        .order_by(*order)
        .limit(limit)
        .offset(offset)
        .subquery()
    )
    features, returned = db.session.execute(
        # As text: the JSON PostgreSQL built goes out as it is, without a Python round trip.
        select(func.coalesce(func.json_agg(page.c.f), literal_column("'[]'::json")).cast(Text), func.count(page.c.f))
    ).one()
    if returned < limit and (offset == 0 or returned > 0):
        matched = offset + returned
    elif not count:
        matched = None
    else:
        matched = db.session.execute(select(func.count()).select_from(t).where(where)).scalar()
    return (
        json.dumps(features, ensure_ascii=False, separators=(",", ":")) if not isinstance(features, str) else features,
        matched,
        returned,
    )


def valid_id(fid) -> bool:
    """Ids are positive database integers; anything else names no row."""
    return isinstance(fid, int) and 0 < fid <= MAX_ID


def get_feature(layer: Layer, scope: Scope, fid: int, properties: dict[str, str] | None = None) -> dict | None:
    """One feature visible to ``scope``, as a GeoJSON dict, or None (``properties``: see
    :func:`feature_expr`)."""
    if not valid_id(fid):
        return None
    t = table_of(layer)
    conds = [t.c.id == fid, scope_condition(layer, t, scope), *base_conditions(layer)]
    return db.session.execute(select(feature_expr(layer, t, properties)).where(and_(*conds))).scalar()


def parse_feature(layer: Layer, body, partial: bool = False):
    """(column values, shapely geometry) from a GeoJSON Feature body, or ApiError 400/422.

    ``body`` is a dict (a file row, checked here against the layer's model) or the model the layer
    API already validated (:func:`app.basemap.schemas.feature_in`). The one place where a
    feature's attributes and geometry are checked: the layer API and file import both use it.
    """
    if not isinstance(body, schemas.FeatureIn):
        body = schemas.validate_feature(layer, body, partial)
    values = {layer.field(name).col: value for name, value in body.properties.model_dump(exclude_unset=True).items()}
    for f in layer.fields:
        if f.kind == "ref" and values.get(f.col) is not None:
            ref = db.metadata.tables[f.ref]
            if db.session.execute(select(ref.c.id).where(ref.c.id == values[f.col])).first() is None:
                raise ApiError(422, f"{f.name}: no {f.ref} with id {values[f.col]}", {f.name: "unknown id"})
    return values, body.geometry if layer.geom_type else None


def _write(stmt, params=None):
    """Run a write; constraint violations become 409/422 (the caller rolls back)."""
    try:
        return db.session.execute(stmt, params)
    except (IntegrityError, DataError) as e:
        detail = str(e.orig).split("\n")[0] if e.orig else "constraint violated"
        status = 409 if "unique" in detail or "foreign key" in detail else 422
        raise ApiError(status, f"the database refused the change: {detail}") from None


@contextmanager
def rollback_on_error():
    """Nothing of a refused write stays in the session."""
    try:
        yield
    except Exception:
        db.session.rollback()
        raise


def inside_clause(layer: Layer, t, scope: Scope):
    """SQL: the row's geometry lies inside the user's area, up to the tolerance areas allow their
    children (:data:`app.areas.services.CONTAINMENT_TOLERANCE_M`). Touching the area is not enough:
    a zone whose grid is the user's may not reach into other areas. Area rows have their own rule
    (inside their parent, :func:`app.areas.services.check_area_geometry`)."""
    if scope.everything or layer.scope != "grid" or not layer.geom_type:
        return true()
    area = select(Area.geom).where(Area.id == scope.area_id).scalar_subquery()
    widened = (
        select(func.geometry(func.ST_Buffer(func.geography(Area.geom), CONTAINMENT_TOLERANCE_M)))
        .where(Area.id == scope.area_id)
        .scalar_subquery()
    )
    # The exact test first; the widened polygon (costlier) only for what sticks out.
    return case((func.ST_CoveredBy(t.c.geom, area), true()), else_=func.ST_CoveredBy(t.c.geom, widened))


def _check_visible(layer: Layer, scope: Scope, fid: int, placed: bool = True) -> dict:
    """The written feature, or 403 when it left the user's area (the caller rolls back).

    ``placed``: its geometry was written, so it must lie inside the area, not only touch it.
    """
    feature = get_feature(layer, scope, fid)
    if feature is None or not _may_write(layer, scope, feature):
        raise ApiError(403, "this place lies outside your area", {"geometry": "outside your area"})
    if placed and not scope.everything and layer.scope == "grid" and layer.geom_type:
        t = table_of(layer)
        if not db.session.execute(select(inside_clause(layer, t, scope)).where(t.c.id == fid)).scalar():
            raise ApiError(
                403,
                f"this place reaches outside your area (more than {CONTAINMENT_TOLERANCE_M:.0f} m)",
                {"geometry": "outside your area"},
            )
    return feature


def _may_write(layer: Layer, scope: Scope, feature: dict) -> bool:
    """Whether ``scope`` may change this visible feature.

    Area rows are visible up the tree (a street planner sees its district), but only
    areas strictly below the user's own may be written.
    """
    if scope.everything or layer.scope != "area":
        return True
    code = (feature.get("properties") or {}).get("code") or ""
    return code.startswith(scope.area_code or "\x00") and code != scope.area_code


def _exists(layer: Layer, fid: int) -> bool:
    """Whether the row exists at all, whoever may see it."""
    t = table_of(layer)
    conds = [t.c.id == fid, *base_conditions(layer)]
    return db.session.execute(select(t.c.id).where(and_(*conds))).first() is not None


def writable_before(layer: Layer, scope: Scope, fid: int) -> dict:
    """The feature about to change: 404 when there is none, 403 when it lies outside the user's area."""
    before = get_feature(layer, scope, fid) if valid_id(fid) else None
    if before is None:
        if valid_id(fid) and _exists(layer, fid):
            raise ApiError(403, f"{layer.name} feature {fid} lies outside your area")
        raise ApiError(404, f"no {layer.name} feature {fid}")
    if not _may_write(layer, scope, before):
        raise ApiError(
            403, f"{layer.name} feature {fid} is not inside your area; only areas below your own may be changed"
        )
    return before


def insert_feature(layer: Layer, scope: Scope, values: dict, geom, action: str = "insert") -> dict:
    """Insert parsed values (see :func:`parse_feature`) and audit it (as ``action``); 403 outside the
    user's area. Neither commits nor rolls back: the caller owns the transaction (one feature, or a
    whole import)."""
    values = dict(values)
    if layer.before_write:
        values = layer.before_write(values, geom, None)
    t = db.metadata.tables[layer.table]
    if geom is not None:
        values["geom"] = from_shape(geom, srid=4326)
    fid = _write(insert(t).values(**values).returning(t.c.id)).scalar()
    feature = _check_visible(layer, scope, fid)
    record(action, layer.table, fid, after=feature)
    return feature


def create_feature(layer: Layer, scope: Scope, body) -> dict:
    """Insert a feature; its grid is assigned by PostGIS. Refused outside the user's area."""
    values, geom = parse_feature(layer, body, partial=False)
    with rollback_on_error():
        feature = insert_feature(layer, scope, values, geom)
    db.session.commit()
    return feature


def update_feature(layer: Layer, scope: Scope, fid: int, body, partial: bool = True) -> dict:
    """Change a feature inside the user's area; the result must stay inside it."""
    before = writable_before(layer, scope, fid)
    values, geom = parse_feature(layer, body, partial=partial)
    with rollback_on_error():
        after = apply_update(layer, scope, fid, values, geom, before)
    db.session.commit()
    return after


def apply_update(
    layer: Layer, scope: Scope, fid: int, values: dict, geom, before: dict, action: str = "update"
) -> dict:
    """Write parsed values (see :func:`parse_feature`) to a feature and audit it; 403 when it leaves the
    user's area. Neither commits nor rolls back: the caller owns the transaction."""
    values = dict(values)
    if layer.before_write:
        values = layer.before_write(values, geom, fid)
    t = db.metadata.tables[layer.table]
    if geom is not None:
        values["geom"] = from_shape(geom, srid=4326)
    if values:
        _write(update(t).where(t.c.id == fid).values(**values))
    after = _check_visible(layer, scope, fid, placed=geom is not None)
    record(action, layer.table, fid, before=before, after=after)
    return after


def delete_feature(layer: Layer, scope: Scope, fid: int) -> None:
    """Delete a feature inside the user's area (409 while other rows depend on it)."""
    before = writable_before(layer, scope, fid)
    with rollback_on_error():
        apply_delete(layer, fid, before)
    db.session.commit()


def apply_delete(layer: Layer, fid: int, before: dict, action: str = "delete") -> None:
    """Delete a feature and audit it (as ``action``); the caller owns the transaction."""
    t = db.metadata.tables[layer.table]
    _write(delete(t).where(t.c.id == fid))
    record(action, layer.table, fid, before=before)
