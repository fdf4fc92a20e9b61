"""From a checked items query to what the provider runs (:class:`app.ogcapi.provider.PageRequest`).

The query model has checked each parameter on its own; here they are checked against the collection
(its queryables, sortables and properties) and against each other (``bbox`` in ``bbox-crs``, the
filter in ``filter-lang`` and ``filter-crs``). Each problem is a 400 OGC exception naming the parameter.
"""
from shapely.geometry import box

from app.basemap.public import PublicLayer
from app.basemap.services import table_of
from app.core.errors import ApiError
from app.ogcapi import cql, cql_sql
from app.ogcapi.crs import CRS84, DEFAULT, CrsError, bbox_to_crs84
from app.ogcapi.params import ItemsQuery, ParamError, check_crs84_bbox
from app.ogcapi.provider import PageRequest
from app.ogcapi.queryables import queryables_of


def _bad(name: str, message: str) -> ApiError:
    return ApiError(400, f"{name}: {message}" if not message.startswith(name) else message, {name: message})


def _area(query: ItemsQuery):
    """(lon/lat bbox for &&, lon/lat polygon for ST_Intersects or None) from ``bbox`` and ``bbox-crs``."""
    if query.bbox is None:
        return None, None
    crs = query.bbox_crs or DEFAULT
    if crs.uri == CRS84:
        try:
            return check_crs84_bbox(query.bbox), None
        except ParamError as e:
            raise _bad("bbox", str(e)) from None
    try:
        lonlat = bbox_to_crs84(query.bbox, crs)
    except CrsError as e:
        raise _bad("bbox", str(e)) from None
    return lonlat, box(*lonlat)


def _sort(public: PublicLayer, query: ItemsQuery) -> list[tuple[str, bool]]:
    if not query.sortby:
        return []
    queryables = queryables_of(public.name)
    sortables = [n for n, q in queryables.items() if q.sortable]
    for name, _ in query.sortby:
        if name not in sortables:
            raise _bad("sortby", f"{name!r} is not sortable; sortables: {', '.join(sortables)}")
    return query.sortby


def _properties(public: PublicLayer, query: ItemsQuery) -> list[str] | None:
    if query.properties is None:
        return None
    known = [p.name for p in public.properties]
    for name in query.properties:
        if name not in known:
            raise _bad("properties", f"{name!r} is not a property of {public.name}; properties: {', '.join(known)}")
    return query.properties


def _condition(public: PublicLayer, query: ItemsQuery):
    """``t -> SQL`` of the CQL2 filter (checked now, against a throw-away alias), or None."""
    if query.filter is None or query.filter.strip() == "":
        if query.filter_lang is not None or query.filter_crs is not None:
            raise _bad("filter", "filter-lang and filter-crs need a filter")
        return None
    try:
        tree = cql.parse(query.filter, query.filter_lang)
    except cql.CqlError as e:
        raise _bad("filter", str(e)) from None
    queryables = queryables_of(public.name)
    crs = query.filter_crs or DEFAULT

    def condition(t):
        return cql_sql.to_sql(tree, queryables, t, crs)

    try:
        condition(table_of(public.layer))       # every error shows now, before any SQL runs
    except cql.CqlError as e:
        raise _bad("filter", str(e)) from None
    return condition


def page_request(public: PublicLayer, query: ItemsQuery) -> PageRequest:
    """The provider's request for ``query`` on ``public``, or a 400 naming the parameter."""
    bbox, area = _area(query)
    return PageRequest(limit=query.limit, offset=query.offset, bbox=bbox, area=area, when=query.datetime,
                       filters=query.filters(), condition=_condition(public, query), sort=_sort(public, query),
                       properties=_properties(public, query), skip_geometry=query.skip_geometry,
                       crs=query.crs or DEFAULT, cursor=query.cursor)
