"""The PostGIS provider of OGC API collections: one query per page, the JSON built by PostgreSQL.

(pygeoapi's idea of one provider per data source; this one serves every published layer.)

A page is read in two steps inside one statement: first the ids of the page (and one more, to know
whether another page follows) in the requested order, after the cursor or the offset — an index
walk that touches no property — then the GeoJSON text of just those rows, joined by ``id``. So
neither ``OFFSET 99000`` nor a cursor ever builds JSON for a row it does not return. The features
are concatenated as text (``ST_AsGeoJSON`` inside a string, ``string_agg``): no JSON is parsed again
on the way out, by PostgreSQL or by Python.
"""
import json
from dataclasses import dataclass, field

from sqlalchemy import Date, Text, and_, func, literal, literal_column, or_, select
from sqlalchemy.dialects.postgresql import aggregate_order_by

from app.auth.policy import Scope
from app.basemap.public import PublicLayer
from app.basemap.services import layer_conditions, table_of
from app.core.extensions import db
from app.core.sql import index_driven
from app.ogcapi import paging
from app.ogcapi.crs import DEFAULT, Crs
from app.ogcapi.params import TimeBound, When
from app.ogcapi.queryables import queryables_of


@dataclass
class PageRequest:
    """What one items request asks for (parsed and checked by the view)."""
    limit: int = 100
    offset: int = 0
    bbox: tuple | None = None                  # lon/lat; && on the index
    area: object = None                        # a lon/lat polygon (bbox in another CRS): && and intersects
    when: When | None = None
    filters: dict = field(default_factory=dict)
    condition: object = None                   # t -> SQL (a CQL2 filter)
    sort: list[tuple[str, bool]] = field(default_factory=list)
    properties: list[str] | None = None
    skip_geometry: bool = False
    crs: Crs = DEFAULT
    cursor: str | None = None


@dataclass
class Page:
    features: str                    # the JSON array, as text
    returned: int
    matched: int | None
    next_cursor: str | None = None
    prev_cursor: str | None = None


def sort_spec(sort: list[tuple[str, bool]]) -> str:
    return ",".join(("-" if desc else "+") + name for name, desc in sort)


def _geometry(t, crs: Crs, skip: bool):
    if skip:
        return literal("null", Text())
    geom = t.c.geom
    if crs.srid != 4326:
        geom = func.ST_Transform(geom, crs.srid)
    if crs.north_first:
        geom = func.ST_FlipCoordinates(geom)
    return func.ST_AsGeoJSON(geom, crs.digits)


def feature_text(public: PublicLayer, t, names: list[str] | None, crs: Crs, skip_geometry: bool):
    """SQL text of one GeoJSON Feature with the public properties (``names``: a chosen subset)."""
    props = [p for p in public.properties if names is None or p.name in names]
    args = []
    for p in props:
        args += [literal(p.name, Text()), literal_column(p.sql)]
    properties = func.json_build_object(*args).cast(Text) if args else literal("{}", Text())
    return func.concat(literal('{"type":"Feature","id":', Text()), t.c.id, literal(',"geometry":', Text()),
                       func.coalesce(_geometry(t, crs, skip_geometry), literal("null", Text())),
                       literal(',"properties":', Text()), properties, literal("}", Text()))


def _time_conditions(col, start: TimeBound | None, end: TimeBound | None, instant: bool) -> list:
    if isinstance(col.type, Date):
        if instant:
            return [col == start.local_date()]
        return ([col >= start.local_date()] if start else []) + ([col <= end.local_date()] if end else [])
    if instant:
        return [col >= start.start(), col < start.end()] if start.is_date else [col == start.value]
    conds = [col >= start.start()] if start else []
    if end:
        conds.append(col < end.end() if end.is_date else col <= end.value)
    return conds


def conditions(public: PublicLayer, scope: Scope, t, req: PageRequest) -> list:
    """Every condition of a page: the user's area, the layer's own, bbox, datetime, filters, CQL2."""
    layer = public.layer
    conds = list(layer_conditions(layer, t, scope))
    if req.bbox is not None:
        conds.append(t.c.geom.op("&&")(func.ST_MakeEnvelope(*req.bbox, 4326)))
    if req.area is not None:
        conds.append(func.ST_Intersects(t.c.geom, func.ST_GeomFromText(literal(req.area.wkt, Text()), 4326)))
    if req.when is not None and public.time_column:
        conds += _time_conditions(t.c[public.time_column], *req.when)
    for name, values in req.filters.items():
        conds.append(t.c[layer.field(name).col].in_(values))
    if req.condition is not None:
        conds.append(req.condition(t))
    return conds


def _sort_keys(public: PublicLayer, t, sort: list[tuple[str, bool]]) -> list[paging.SortKey]:
    queryables = queryables_of(public.name)
    keys = [paging.SortKey(queryables[name].sql(t), desc) for name, desc in sort]
    if not any(name == "id" for name, _ in sort):
        keys.append(paging.SortKey(t.c.id))
    return keys


def page(public: PublicLayer, scope: Scope, req: PageRequest) -> Page:
    """One page of a collection (see the module's notes), with cursors for the next and previous pages."""
    index_driven()
    t = table_of(public.layer)
    where = and_(*conditions(public, scope, t, req))
    keys = _sort_keys(public, t, req.sort)
    spec = sort_spec(req.sort)
    cursor = paging.decode(req.cursor, spec, len(keys)) if req.cursor else None
    backwards = bool(cursor and cursor.before)
    inner = select(t.c.id.label("fid"), *[k.sql.label(f"k{i}") for i, k in enumerate(keys)]).where(where)
    if cursor is not None:
        inner = inner.where(paging.after(keys, cursor.keys, backwards))
    inner = inner.order_by(*paging.order_by(keys, backwards)).limit(req.limit + 1)
    if cursor is None and req.offset:
        inner = inner.offset(req.offset)
    inner = inner.subquery("ids")
    ik = [paging.SortKey(inner.c[f"k{i}"], k.desc) for i, k in enumerate(keys)]
    numbered = select(inner, func.row_number().over(order_by=paging.order_by(ik, backwards)).label("rn")) \
        .subquery("numbered")
    shown = numbered.c.rn <= req.limit
    # The JSON of each shown row, looked up by id (a correlated sub-select: one primary-key probe per
    # row; as a join the planner hashed the whole table to find 1,000 rows).
    ft = table_of(public.layer)
    feature = (select(feature_text(public, ft, req.properties, req.crs, req.skip_geometry))
               .where(ft.c.id == numbered.c.fid).scalar_subquery())
    reading = numbered.c.rn.desc() if backwards else numbered.c.rn
    key_row = func.json_build_array(*[numbered.c[f"k{i}"] for i in range(len(keys))])
    stmt = (select(func.array_to_string(func.array_agg(aggregate_order_by(feature, reading)).filter(shown), ","),
                   func.count(),
                   func.json_agg(aggregate_order_by(key_row, numbered.c.rn))
                   .filter(or_(numbered.c.rn == 1, numbered.c.rn == req.limit)))
            .select_from(numbered))
    features, fetched, ends = db.session.execute(stmt).one()
    returned = min(fetched, req.limit)
    more = fetched > req.limit                      # beyond the page in reading order
    return _page("[" + (features or "") + "]", returned, more, ends or [], cursor, req, spec,
                 lambda: db.session.execute(select(func.count()).select_from(t).where(where)).scalar())


def _page(features: str, returned: int, more: bool, ends: list, cursor, req: PageRequest, spec: str, count) -> Page:
    """The page with its counts and cursors; ``ends`` are the keys of reading rows 1 and ``limit``."""
    backwards = bool(cursor and cursor.before)
    first_read = ends[0] if ends else None
    last_read = ends[-1] if ends and (len(ends) > 1 or req.limit == 1) else None
    if backwards:       # read backwards: row 1 is the page's last row, row ``limit`` its first
        first_shown, last_shown = (last_read if more else None), first_read
        has_next, has_prev = returned > 0, more
    else:
        first_shown, last_shown = first_read, last_read
        has_next, has_prev = more, (cursor is not None or req.offset > 0) and returned > 0
    matched = None
    if cursor is None:
        if not more:
            matched = req.offset + returned if (req.offset == 0 or returned > 0) else None
        elif req.offset == 0:
            matched = count()
    return Page(features, returned, matched,
                next_cursor=paging.encode(last_shown, False, spec) if has_next and last_shown else None,
                prev_cursor=paging.encode(first_shown, True, spec) if has_prev and first_shown else None)


def item(public: PublicLayer, scope: Scope, fid: int, crs: Crs = DEFAULT) -> dict | None:
    """One feature of a collection in the user's area, with the public properties only."""
    t = table_of(public.layer)
    stmt = select(feature_text(public, t, None, crs, False)).where(
        t.c.id == fid, *layer_conditions(public.layer, t, scope))
    text = db.session.execute(stmt).scalar()
    return None if text is None else json.loads(text)

