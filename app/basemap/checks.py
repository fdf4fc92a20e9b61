"""Checking a feature before it is saved, with every refusal said so that a planner understands it.

:func:`check_feature` runs exactly what a write runs — the layer's model (:mod:`app.basemap.schemas`),
the geometry's rules (:mod:`gis.geometry`), the layer's own rules (areas nest, grids don't overlap) and
the user's area — inside a savepoint that is rolled back, and answers a list of problems, each with
the field it concerns, a ``code`` (what kind of problem), a message in the user's language, and what
the map can show: where a geometry is invalid, the repaired geometry to offer (``make_valid``), the
overlap with a sibling grid, the part outside the parent or the user's area.
"""

import re

from flask_babel import gettext as _
from sqlalchemy import func, select

from app.areas.models import Area
from app.areas.services import AreaGeometryError
from app.auth.policy import Scope
from app.basemap import services
from app.basemap.layers import Layer
from app.core.errors import ApiError
from app.core.extensions import db
from app.web.labels import field_label, value_label
from gis.geometry import GeometryError, parse_geometry, repair, to_geojson

# GEOS' validity reasons (shapely.validation.explain_validity), as a planner would say them.
_REASONS = {
    "Self-intersection": lambda: _("边线自相交（例如画成了“8”字形）"),
    "Ring Self-intersection": lambda: _("一圈边线自己相交"),
    "Too few points in geometry component": lambda: _("顶点太少（一圈至少要 3 个不同的点）"),
    "Hole lies outside shell": lambda: _("内部的洞落在外圈之外"),
    "Nested holes": lambda: _("洞套着洞"),
    "Interior is disconnected": lambda: _("内部被分割成了不相连的部分"),
    "Nested shells": lambda: _("外圈套着外圈"),
    "Duplicate Rings": lambda: _("有重复的边线圈"),
    "Invalid Coordinate": lambda: _("坐标不是有效数字"),
    "Ring is not closed": lambda: _("边线没有闭合"),
}


def reason_text(reason: str | None) -> str:
    """GEOS' reason in the user's language (as it is when not known)."""
    found = _REASONS.get((reason or "").strip())
    return found() if found else (reason or "")


# The short field messages of the API (app.web.api.MESSAGES, app.basemap.fields), in the user's language.
_FIELD_MESSAGES: list[tuple[re.Pattern, object]] = [
    (re.compile(r"^required$"), lambda m: _("必填")),
    (re.compile(r"^unknown field$"), lambda m: _("没有这个属性")),
    (re.compile(r"^must be a string$"), lambda m: _("应为文字")),
    (re.compile(r"^must be an integer$"), lambda m: _("应为整数")),
    (re.compile(r"^must be (a|a finite) number$"), lambda m: _("应为数字")),
    (re.compile(r"^must be true or false$"), lambda m: _("应为“是”或“否”")),
    (re.compile(r"^must be a date YYYY-MM-DD$"), lambda m: _("应为日期，例如 2024-04-22")),
    (re.compile(r"^must be an ISO 8601 date-time$"), lambda m: _("应为日期和时间")),
    (re.compile(r"^must be ≥ (.+)$"), lambda m: _("不能小于 %(value)s", value=m.group(1))),
    (re.compile(r"^must be ≤ (.+)$"), lambda m: _("不能大于 %(value)s", value=m.group(1))),
    (re.compile(r"^must be > (.+)$"), lambda m: _("应大于 %(value)s", value=m.group(1))),
    (re.compile(r"^must be < (.+)$"), lambda m: _("应小于 %(value)s", value=m.group(1))),
    (re.compile(r"^at least (\d+) character"), lambda m: _("至少 %(n)s 个字", n=m.group(1))),
    (re.compile(r"^at most (\d+) characters$"), lambda m: _("最多 %(n)s 个字", n=m.group(1))),
    (re.compile(r"^unknown id$"), lambda m: _("没有这个编号的记录")),
    (re.compile(r"^too many vertices: at most (\d+)"), lambda m: _("顶点太多：每个图形最多 %(n)s 个", n=m.group(1))),
]


def field_message(field: str, message: str) -> str:
    """An API field message (``must be ≥ 1``) in the user's language; enum choices by their labels."""
    m = re.match(r"^must be one of: (.+)$", message)
    if m:
        choices = [c.strip().strip("'") for c in m.group(1).split(",")]
        return _("应为以下之一：%(values)s", values="、".join(value_label(field, c) for c in choices))
    for pattern, say in _FIELD_MESSAGES:
        found = pattern.match(message)
        if found:
            return say(found)
    return message


_ROW_MESSAGES: list[tuple[re.Pattern, object]] = [
    (
        re.compile(r"^lon/lat must be numbers, not (.*)$"),
        lambda m: _("经度/纬度应为数字，而不是 %(values)s", values=m.group(1)),
    ),
    (
        re.compile(r"^has (\d+) cells, the header has (\d+)$"),
        lambda m: _("这一行有 %(n)s 格，表头有 %(m)s 格", n=m.group(1), m=m.group(2)),
    ),
    (re.compile(r"^this place lies outside your area"), lambda m: _("超出了您的辖区，只能在辖区内编辑")),
    (re.compile(r"^geometry is not valid WKT"), lambda m: _("WKT 图形无法读取")),
]


def _geometry_text(message: str) -> str:
    m = re.match(r"^invalid geometry: (.+?)(\[[^\]]*\])?$", message)
    if m:
        return _("图形无效：%(reason)s", reason=reason_text(m.group(1)))
    if "not closed" in message:
        return _("图形无效：%(reason)s", reason=_("边线没有闭合：最后一个点应回到第一个点"))
    return message


def describe(fields: dict, message: str) -> str:
    """A refusal (``fields`` as the API names them, or only its ``message``) in the user's language,
    for a list such as the refused rows of an import."""
    if not fields:
        for pattern, say in _ROW_MESSAGES:
            found = pattern.match(message)
            if found:
                return say(found)
        return message
    parts = []
    for field, text in fields.items():
        if field == "geometry":
            parts.append(_geometry_text(text) if text != "outside your area" else _("超出了您的辖区，只能在辖区内编辑"))
        else:
            parts.append(_("%(field)s：%(message)s", field=field_label(field), message=field_message(field, text)))
    return "；".join(parts)


def _problem(field: str, code: str, message: str, **extra) -> dict:
    return {"field": field, "code": code, "message": message, **{k: v for k, v in extra.items() if v is not None}}


def geometry_problem(layer: Layer, geometry, e: GeometryError) -> dict:
    """A geometry that breaks a rule of :func:`gis.geometry.parse_geometry`, said for a planner."""
    allowed = (layer.geom_type,)
    if e.kind == "type":
        return _problem("geometry", "geometry_type", _("这个图层只能画%(kind)s", kind=_kind_name(layer.geom_type)))
    if e.kind in ("invalid", "unclosed"):
        fixed = repair(geometry, allowed)
        reason = _("边线没有闭合：最后一个点应回到第一个点") if e.kind == "unclosed" else reason_text(e.reason)
        return _problem(
            "geometry",
            "geometry_invalid",
            _("图形无效：%(reason)s", reason=reason),
            reason=e.reason or e.kind,
            location=e.location,
            repair=None if fixed is None else to_geojson(fixed),
        )
    if e.kind == "range":
        return _problem("geometry", "geometry_range", _("坐标超出范围：经度在 -180～180，纬度在 -90～90"))
    return _problem("geometry", "geometry_malformed", _("图形无法读取：%(detail)s", detail=str(e)))


def _kind_name(geom_type: str | None) -> str:
    if geom_type and "Point" in geom_type:
        return _("点")
    if geom_type and "LineString" in geom_type:
        return _("线")
    return _("面（多边形）")


def area_problem(e: AreaGeometryError) -> dict:
    """An area's geometry refused by :mod:`app.areas.services`, with the part to draw."""
    other, m2 = e.other, round(e.m2)
    if e.kind == "overlaps":
        message = _("与相邻网格 %(name)s（%(code)s）重叠 %(m2)s 平方米", name=other["name"], code=other["code"], m2=m2)
    elif e.kind == "outside_parent":
        message = _("超出上级区域 %(name)s %(m2)s 平方米", name=other["name"], m2=m2)
    else:
        message = _(
            "会使下级区域 %(name)s（%(code)s）有 %(m2)s 平方米落在外面", name=other["name"], code=other["code"], m2=m2
        )
    return _problem("geometry", e.kind, message, shape=e.shape, other=other)


def _outside_area(geom, scope: Scope) -> dict | None:
    """The part of ``geom`` outside the user's area, as GeoJSON (what the map draws)."""
    if scope.everything or scope.area_id is None or geom is None:
        return None
    area = select(Area.geom).where(Area.id == scope.area_id).scalar_subquery()
    shape = func.ST_Difference(func.ST_GeomFromText(geom.wkt, 4326), area)
    return db.session.scalar(select(func.ST_AsGeoJSON(shape, 7).cast(db.JSON)))


def _write_problem(layer: Layer, scope: Scope, e: ApiError, geom) -> dict:
    if isinstance(e, AreaGeometryError):
        return area_problem(e)
    if e.status == 403 and e.fields.get("geometry") == "outside your area":
        return _problem(
            "geometry", "outside_area", _("超出了您的辖区，只能在辖区内编辑"), shape=_outside_area(geom, scope)
        )
    if e.status == 409 and "code" in e.fields:
        return _problem("code", "taken", _("这个编码已被使用"))
    if e.fields:
        field = next(iter(e.fields))
        if field in ("code", "parent_code", "level", "name"):
            return _problem(field, "rule", e.message)
    return _problem("", "refused", e.message)


def check_feature(layer: Layer, scope: Scope, feature, fid: int | None = None) -> list[dict]:
    """The problems a write of ``feature`` (a new one, or a change of feature ``fid``) would meet; none
    when it would be stored. Nothing is written."""
    if fid is not None:
        services.writable_before(layer, scope, fid)  # 404 / 403 as the write: not a problem to list
    problems = []
    geometry = feature.get("geometry") if isinstance(feature, dict) else None
    if layer.geom_type and geometry is not None:
        try:
            parse_geometry(geometry, allowed=(layer.geom_type,))
        except GeometryError as e:
            problems.append(geometry_problem(layer, geometry, e))
    try:
        values, geom = services.parse_feature(layer, feature, partial=fid is not None)
    except ApiError as e:
        for field, message in e.fields.items():
            if field == "geometry" and problems:
                continue
            problems.append(
                _problem(
                    field,
                    "field",
                    field_message(field, message),
                    label=_("%(field)s：%(message)s", field=field_label(field), message=field_message(field, message)),
                )
            )
        return problems or [_problem("", "refused", e.message)]
    if problems:
        return problems
    savepoint = db.session.begin_nested()
    try:
        if fid is None:
            services.insert_feature(layer, scope, values, geom)
        else:
            services.apply_update(layer, scope, fid, values, geom, services.writable_before(layer, scope, fid))
    except ApiError as e:
        problems.append(_write_problem(layer, scope, e, geom))
    finally:
        savepoint.rollback()
    return problems
