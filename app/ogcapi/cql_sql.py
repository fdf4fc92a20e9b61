"""A CQL2 AST (:mod:`app.ogcapi.cql`) as a SQLAlchemy Core condition over a collection's table.

Every name is looked up among the collection's queryables (:mod:`app.ogcapi.queryables`); every
value becomes a bound parameter; the kinds of both sides are checked before any SQL is built, so a
filter PostgreSQL could not run (a text compared with a number, an invalid polygon) is a 400, never
a database error. Geometries are read in ``filter-crs`` (its axis order) and sent as WKB in lon/lat.
``S_DWITHIN`` distances are metres on the spheroid, with a degree box around the geometry first so
the GiST index is used.
"""
import datetime as dt
import math
import re

import shapely
from geoalchemy2 import Geography
from pygeofilter import ast, values
from shapely.geometry import box, shape
from sqlalchemy import Date, DateTime, Float, LargeBinary, Text, and_, cast, false, func, literal, not_, or_, true

from app.core.time import TZ
from app.ogcapi.cql import CqlError, Temporal
from app.ogcapi.crs import Crs, CrsError, geometry_to_crs84, lookup
from app.ogcapi.queryables import Queryable

_GROUPS = {"integer": "number", "number": "number", "string": "string", "boolean": "boolean",
           "date": "time", "datetime": "time", "geometry": "geometry"}
_COMPARE = {"=": lambda a, b: a == b, "<>": lambda a, b: a != b, "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}
_SPATIAL = {"INTERSECTS": func.ST_Intersects, "CONTAINS": func.ST_Contains, "WITHIN": func.ST_Within,
            "TOUCHES": func.ST_Touches, "CROSSES": func.ST_Crosses, "OVERLAPS": func.ST_Overlaps,
            "EQUALS": func.ST_Equals}
_UNITS = {"m": 1.0, "meter": 1.0, "meters": 1.0, "metre": 1.0, "metres": 1.0,
          "km": 1000.0, "kilometer": 1000.0, "kilometers": 1000.0, "kilometre": 1000.0, "kilometres": 1000.0}
MAX_DISTANCE_M = 1_000_000
_RELATE = re.compile(r"^[012TF*]{9}$")
NEG, POS = "-inf", "+inf"        # open ends of an interval


class Typed:
    """A SQL expression and its kind (see :data:`_GROUPS`)."""
    __slots__ = ("kind", "sql")

    def __init__(self, sql, kind: str):
        self.sql, self.kind = sql, kind


class Translator:
    """Turns one filter's AST into SQL over ``t`` (the table aliased ``t``)."""

    def __init__(self, queryables: dict[str, Queryable], t, filter_crs: Crs):
        self.queryables, self.t, self.crs = queryables, t, filter_crs

    # ------------------------------------------------------------------ predicates
    def condition(self, node):
        if isinstance(node, ast.And):
            return and_(self.condition(node.lhs), self.condition(node.rhs))
        if isinstance(node, ast.Or):
            return or_(self.condition(node.lhs), self.condition(node.rhs))
        if isinstance(node, ast.Not):
            return not_(self.condition(node.sub_node))
        if isinstance(node, ast.Include):
            return false() if node.not_ else true()
        if isinstance(node, bool):
            return true() if node else false()
        if isinstance(node, ast.Comparison):
            return self.compare(node.op.value, self.expr(node.lhs), self.expr(node.rhs))
        if isinstance(node, ast.Between):
            return self.between(node)
        if isinstance(node, ast.Like):
            return self.like(node)
        if isinstance(node, ast.In):
            return self.in_(node)
        if isinstance(node, ast.IsNull):
            lhs = self.expr(node.lhs)
            return lhs.sql.is_not(None) if node.not_ else lhs.sql.is_(None)
        if isinstance(node, Temporal):
            return self.temporal(node)
        if isinstance(node, (ast.SpatialComparisonPredicate, ast.Relate, ast.SpatialDistancePredicate, ast.BBox)):
            return self.spatial(node)
        raise CqlError(f"{type(node).__name__} is not supported in filters")

    def compare(self, op: str, a: Typed, b: Typed):
        a, b = self._same_kind(a, b, op)
        if a.kind in ("geometry", "boolean") and op not in ("=", "<>"):
            raise CqlError(f"{op} does not apply to {a.kind} values")
        if a.kind == "geometry":
            raise CqlError("compare geometries with S_EQUALS, not =")
        return _COMPARE[op](a.sql, b.sql)

    def between(self, node: ast.Between):
        lhs = self.expr(node.lhs)
        low, high = self._same_kind(lhs, self.expr(node.low), "BETWEEN"), \
            self._same_kind(lhs, self.expr(node.high), "BETWEEN")
        cond = and_(low[0].sql >= low[1].sql, high[0].sql <= high[1].sql)
        return not_(cond) if node.not_ else cond

    def like(self, node: ast.Like):
        lhs = self.expr(node.lhs)
        pattern = self.expr(node.pattern) if not isinstance(node.pattern, str) else self.literal(node.pattern)
        if lhs.kind != "string" or pattern.kind != "string":
            raise CqlError("LIKE compares text with a text pattern")
        cond = lhs.sql.ilike(pattern.sql) if node.nocase else lhs.sql.like(pattern.sql)
        return not_(cond) if node.not_ else cond

    def in_(self, node: ast.In):
        lhs = self.expr(node.lhs)
        if not node.sub_nodes:
            raise CqlError("IN needs at least one value")
        options = [self._same_kind(lhs, self.expr(o), "IN")[1].sql for o in node.sub_nodes]
        cond = lhs.sql.in_(options) if lhs.kind != "time" else or_(*(lhs.sql == o for o in options))
        return not_(cond) if node.not_ else cond

    # ------------------------------------------------------------------ expressions
    def expr(self, node) -> Typed:
        if isinstance(node, ast.Attribute):
            q = self.queryables.get(node.name)
            if q is None:
                raise CqlError(f"unknown queryable {node.name!r}; queryables: {', '.join(self.queryables)}")
            return Typed(q.sql(self.t), q.kind)
        if isinstance(node, ast.Function):
            return self.function(node)
        if isinstance(node, (ast.Arithmetic,)):
            raise CqlError("arithmetic is not supported in filters")
        if isinstance(node, (values.Geometry, values.Envelope)):
            return Typed(self.geometry(node), "geometry")
        if isinstance(node, (values.Interval, list)):
            raise CqlError("an interval only goes into a temporal function (T_INTERSECTS, T_DURING …)")
        if isinstance(node, ast.Node):
            raise CqlError(f"{type(node).__name__} is not a value")
        return self.literal(node)

    def literal(self, value) -> Typed:
        if isinstance(value, bool):
            return Typed(literal(value), "boolean")
        if isinstance(value, (int, float)):
            if isinstance(value, float) and not math.isfinite(value):
                raise CqlError("numbers in filters must be finite")
            return Typed(literal(value, Float()) if isinstance(value, float) else literal(value), "number")
        if isinstance(value, str):
            if "\x00" in value:
                raise CqlError("text in a filter must not contain NUL characters")
            return Typed(literal(value, Text()), "string")
        if isinstance(value, dt.datetime):
            return Typed(literal(_aware(value), DateTime(timezone=True)), "datetime")
        if isinstance(value, dt.date):
            return Typed(literal(value, Date()), "date")
        raise CqlError(f"{type(value).__name__} values are not supported in filters")

    def function(self, node: ast.Function) -> Typed:
        name = node.name.lower()
        if name in ("lower", "casei") and len(node.arguments) == 1:
            arg = self.expr(node.arguments[0])
            if arg.kind != "string":
                raise CqlError("CASEI takes a text value")
            return Typed(func.lower(arg.sql), "string")
        raise CqlError(f"function {node.name!r} is not supported (CASEI is)")

    def _same_kind(self, a: Typed, b: Typed, op: str) -> tuple[Typed, Typed]:
        ga, gb = _GROUPS.get(a.kind), _GROUPS.get(b.kind)
        if ga != gb:
            raise CqlError(f"{op}: cannot compare a {a.kind} with a {b.kind}")
        if ga == "time" and a.kind != b.kind:
            a, b = _as_datetime(a), _as_datetime(b)
        return a, b

    # ------------------------------------------------------------------ geometry
    def geometry(self, node, crs: Crs | None = None):
        """A geometry literal (in ``crs`` or the filter's CRS) as a lon/lat WKB parameter."""
        crs = crs or self.crs
        try:
            if isinstance(node, values.Envelope):
                geom = box(node.x1, node.y1, node.x2, node.y2)
                if crs.srid != 4326 or crs.north_first:
                    geom = shapely.segmentize(geom, max(node.x2 - node.x1, node.y2 - node.y1) / 20 or 1)
            else:
                geom = shape(node.__geo_interface__)
        except (ValueError, TypeError, AttributeError, shapely.errors.ShapelyError) as e:
            raise CqlError(f"not a valid geometry: {e}") from None
        if geom.is_empty:
            raise CqlError("empty geometries are not supported in filters")
        if not shapely.is_valid(geom):
            raise CqlError(f"invalid geometry: {shapely.is_valid_reason(geom)}")
        try:
            geom = geometry_to_crs84(geom, crs)
        except CrsError as e:
            raise CqlError(str(e)) from None
        return func.ST_GeomFromWKB(literal(shapely.to_wkb(geom), LargeBinary()), 4326)

    def spatial(self, node):
        if isinstance(node, ast.BBox):
            try:
                crs = lookup(node.crs) if node.crs else None
            except CrsError as e:
                raise CqlError(str(e)) from None
            envelope = values.Envelope(node.minx, node.maxx, node.miny, node.maxy)
            return func.ST_Intersects(self._geom_side(node.lhs), self.geometry(envelope, crs))
        a, b = self._geom_side(node.lhs), self._geom_side(node.rhs)
        if isinstance(node, ast.Relate):
            if not _RELATE.match(node.pattern or ""):
                raise CqlError("RELATE needs a 9-character DE-9IM pattern of 0, 1, 2, T, F, *")
            return func.ST_Relate(a, b, literal(node.pattern, Text()))
        if isinstance(node, ast.SpatialDistancePredicate):
            within = self._dwithin(node, a, b)
            return within if isinstance(node, ast.DistanceWithin) else not_(within)
        if node.op.name == "DISJOINT":
            return not_(func.ST_Intersects(a, b))
        return _SPATIAL[node.op.name](a, b)

    def _geom_side(self, node):
        side = self.expr(node)
        if side.kind != "geometry":
            raise CqlError("spatial functions take geometries (the geometry queryable, or a geometry literal)")
        return side.sql

    def _dwithin(self, node, a, b):
        units = str(node.units or "meters").strip("'").lower()
        if units not in _UNITS:
            raise CqlError(f"S_DWITHIN: unknown distance units {node.units!r} (meters or kilometers)")
        if isinstance(node.distance, bool) or not isinstance(node.distance, (int, float)):
            raise CqlError("S_DWITHIN: the distance must be a number")
        metres = float(node.distance) * _UNITS[units]
        if not (0 <= metres <= MAX_DISTANCE_M):
            raise CqlError(f"S_DWITHIN: the distance must lie between 0 and {MAX_DISTANCE_M:,} metres")
        # A degree bound no smaller than the distance anywhere up to 85° of latitude, for the index.
        degrees = min(180.0, metres / (111_320 * math.cos(math.radians(85))) + 1e-6)
        return and_(func.ST_DWithin(a, b, degrees), func.ST_DWithin(cast(a, Geography), cast(b, Geography), metres))

    # ------------------------------------------------------------------ time
    def temporal(self, node: Temporal):
        a, b = self._period(node.lhs), self._period(node.rhs)
        kinds = {k for _, _, k in (a, b) if k}
        if kinds == {"date", "datetime"}:
            a, b = _period_as_datetime(a), _period_as_datetime(b)
        (a_s, a_e, _), (b_s, b_e, _) = a, b
        return _TEMPORAL[node.op](a_s, a_e, b_s, b_e)

    def _period(self, node):
        """(start, end, kind) of a temporal operand; open ends are NEG / POS."""
        if isinstance(node, (values.Interval, list)):
            start, end = (node.start, node.end) if isinstance(node, values.Interval) else node
            if isinstance(start, dt.timedelta) or isinstance(end, dt.timedelta):
                raise CqlError("intervals with durations are not supported")
            s = self.expr(start) if start is not None else None
            e = self.expr(end) if end is not None else None
            kinds = {x.kind for x in (s, e) if x is not None}
            if not kinds <= {"date", "datetime"}:
                raise CqlError("interval ends must be dates or timestamps")
            kind = "datetime" if "datetime" in kinds else ("date" if kinds else None)
            return (s.sql if s else NEG), (e.sql if e else POS), kind
        value = self.expr(node)
        if value.kind not in ("date", "datetime"):
            raise CqlError(f"temporal functions take dates, timestamps and intervals, not a {value.kind}")
        return value.sql, value.sql, value.kind


def _aware(value: dt.datetime) -> dt.datetime:
    """Naive times are read in the documented zone (Asia/Shanghai)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=TZ)


def _as_datetime(value: Typed) -> Typed:
    if value.kind != "date":
        return value
    return Typed(cast(value.sql, DateTime(timezone=True)), "datetime")


def _period_as_datetime(p):
    start, end, kind = p
    if kind != "date":
        return p
    conv = [x if x in (NEG, POS) else cast(x, DateTime(timezone=True)) for x in (start, end)]
    return conv[0], conv[1], "datetime"


def _rank(x) -> int:
    return {NEG: 0, POS: 2}[x] if isinstance(x, str) else 1


def _lt(x, y):
    if isinstance(x, str) or isinstance(y, str):      # an open end: the answer is known now
        return true() if _rank(x) < _rank(y) else false()
    return x < y


def _eq(x, y):
    if isinstance(x, str) or isinstance(y, str):
        return true() if (isinstance(x, str) and isinstance(y, str) and x == y) else false()
    return x == y


def _gt(x, y):
    return _lt(y, x)


def _le(x, y):
    return or_(_lt(x, y), _eq(x, y))


_TEMPORAL = {
    "t_after": lambda a_s, a_e, b_s, b_e: _gt(a_s, b_e),
    "t_before": lambda a_s, a_e, b_s, b_e: _lt(a_e, b_s),
    "t_contains": lambda a_s, a_e, b_s, b_e: and_(_lt(a_s, b_s), _gt(a_e, b_e)),
    "t_disjoint": lambda a_s, a_e, b_s, b_e: or_(_lt(a_e, b_s), _gt(a_s, b_e)),
    "t_during": lambda a_s, a_e, b_s, b_e: and_(_gt(a_s, b_s), _lt(a_e, b_e)),
    "t_equals": lambda a_s, a_e, b_s, b_e: and_(_eq(a_s, b_s), _eq(a_e, b_e)),
    "t_finishedby": lambda a_s, a_e, b_s, b_e: and_(_lt(a_s, b_s), _eq(a_e, b_e)),
    "t_finishes": lambda a_s, a_e, b_s, b_e: and_(_gt(a_s, b_s), _eq(a_e, b_e)),
    "t_intersects": lambda a_s, a_e, b_s, b_e: and_(_le(a_s, b_e), _le(b_s, a_e)),
    "t_meets": lambda a_s, a_e, b_s, b_e: _eq(a_e, b_s),
    "t_metby": lambda a_s, a_e, b_s, b_e: _eq(a_s, b_e),
    "t_overlappedby": lambda a_s, a_e, b_s, b_e: and_(_gt(a_s, b_s), _lt(a_s, b_e), _gt(a_e, b_e)),
    "t_overlaps": lambda a_s, a_e, b_s, b_e: and_(_lt(a_s, b_s), _gt(a_e, b_s), _lt(a_e, b_e)),
    "t_startedby": lambda a_s, a_e, b_s, b_e: and_(_eq(a_s, b_s), _gt(a_e, b_e)),
    "t_starts": lambda a_s, a_e, b_s, b_e: and_(_eq(a_s, b_s), _lt(a_e, b_e)),
}
_TEMPORAL |= {"t_begins": _TEMPORAL["t_starts"], "t_begunby": _TEMPORAL["t_startedby"],
              "t_ends": _TEMPORAL["t_finishes"], "t_endedby": _TEMPORAL["t_finishedby"]}


def to_sql(node, queryables: dict[str, Queryable], t, filter_crs: Crs):
    """The SQL condition of a parsed filter, or :class:`CqlError`."""
    try:
        return Translator(queryables, t, filter_crs).condition(node)
    except RecursionError:
        raise CqlError("filter is nested too deeply") from None

