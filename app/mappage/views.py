"""Map page (folium) and simple list pages per layer.

The map page carries only configuration: the browser fetches every layer from
its API URL for the visible bbox. List pages read the same services as the API,
in the same area scope, and reject malformed parameters with 400.
"""

import re

from flask import Blueprint, current_app, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from shapely.geometry import shape

from app.auth.policy import current_scope
from app.basemap.layers import LAYERS, Layer
from app.core.errors import ApiError
from app.mappage import catalog, editing, services
from app.web.labels import field_label, value_label
from app.web.maps import map_texts
from app.web.tables import csv_response
from gis.maps import add_layers, base_map, render_parts

bp = Blueprint("mappage", __name__)

PER_PAGE = 50
PER_PAGE_CHOICES = (20, 50, 100, 200)
_FOCUS = re.compile(r"^([a-z][a-z0-9_-]{0,63}):([0-9]{1,12})$")
_LIST_PARAMS = {"page", "per_page", "sort", "q", "area", "lang"}


def _parse_focus(raw: str | None) -> dict | None:
    """``<layer>:<id>`` → {layer, id, url}; 400 when malformed or naming no layer of the map."""
    if raw is None or raw == "":
        return None
    m = _FOCUS.match(raw)
    if not m:
        raise ApiError(400, _("focus 参数应为 <图层>:<编号>，例如 chargers:12"), {"focus": "malformed"}, said=True)
    name, fid = m.group(1), int(m.group(2))
    url = catalog.focus_url(name, fid, current_user)
    if url is None:
        raise ApiError(400, _("没有名为 %(name)s 的地图图层", name=name), {"focus": "unknown layer"}, said=True)
    return {"layer": name, "id": fid, "url": url or None}


@bp.get("/")
@login_required
def index():
    """The map, opened on the user's area (or on ``?focus=<layer>:<id>``)."""
    focus = _parse_focus(request.args.get("focus"))
    extent = services.area_extent(current_scope())
    cfg = current_app.config
    edit = editing.edit_config(current_user)
    m = base_map(
        url_for("static", filename=""),
        basemap=cfg["WUWEI_BASEMAP"],
        tianditu_key=cfg.get("WUWEI_TIANDITU_KEY", ""),
        editing=edit is not None,
        vector_tiles=True,
    )
    layers = catalog.page_layers(current_user)
    add_layers(
        m,
        layers,
        bounds=[[extent[1], extent[0]], [extent[3], extent[2]]] if extent else None,
        focus=focus,
        texts=map_texts(),
        edit=edit,
    )
    return render_template("mappage/map.html", map=render_parts(m), layers=layers, basemap=cfg["WUWEI_BASEMAP"])


def _layer_or_404(name: str) -> Layer:
    layer = LAYERS.get(name)
    if layer is None:
        raise ApiError(404, _("没有名为 %(name)s 的图层", name=name), said=True)
    return layer


def _int(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name, "")
    if raw == "":
        return default
    if not raw.isdigit() or not lo <= int(raw) <= hi:
        raise ApiError(
            400, _("参数 %(name)s 应为 %(lo)s 到 %(hi)s 之间的整数", name=name, lo=lo, hi=hi), {name: "out of range"}
        )
    return int(raw)


def _list_args(layer: Layer) -> dict:
    """Filters, search and order of a list page from the query string; 400 on anything unknown."""
    args = request.args
    filter_fields = {f.name: f for f in layer.fields if f.filter}
    unknown = set(args) - _LIST_PARAMS - set(filter_fields)
    if unknown:
        raise ApiError(
            400, _("未知参数：%(names)s", names="、".join(sorted(unknown))), {n: "unknown parameter" for n in unknown}
        )
    filters = {}
    for name, f in filter_fields.items():
        raw = args.get(name, "")
        if raw == "":
            continue
        try:
            filters[name] = [f.parse(v) for v in raw.split(",")]
        except ValueError as e:
            raise ApiError(
                400,
                _("筛选条件 %(name)s=%(value)s 无效：%(reason)s", name=field_label(name), value=raw, reason=str(e)),
                {name: str(e)},
            ) from None
    area = args.get("area", "")
    if area:
        if not area.isdigit() or len(area) > 18:
            raise ApiError(400, _("区域编码应为数字"), {"area": "malformed code"}, said=True)
        filters["area"] = area
    sort = args.get("sort", "id") or "id"
    if sort.lstrip("-") not in layer.sortable:
        raise ApiError(400, _("无法按 %(name)s 排序", name=sort), {"sort": "unknown"}, said=True)
    q = args.get("q", "").strip()
    if len(q) > 100:
        raise ApiError(400, _("搜索词最多 100 个字"), {"q": "too long"}, said=True)
    return {"filters": filters, "q": q or None, "sort": sort}


def _columns(layer: Layer) -> list[str]:
    """Attributes shown in the table: the layer's fields (names, not ids) and computed values."""
    names = ["id"] + [f.name for f in layer.fields if f.kind != "ref"] + list(layer.computed)
    return [n for n in names if n not in ("grid_id",)]


def _query(**changes) -> str:
    """The current query string with ``changes`` applied (None removes a key)."""
    args = {k: v for k, v in request.args.items()}
    for k, v in changes.items():
        if v is None:
            args.pop(k, None)
        else:
            args[k] = v
    return url_for(request.endpoint, **request.view_args, **args)


@bp.get("/layers")
@login_required
def layer_index():
    """Every layer with a link to its list."""
    return render_template(
        "mappage/layers.html", layers=list(LAYERS.values()), on_map={l.name for l in catalog.map_layers()}
    )


@bp.get("/layers/<layer_name>")
@login_required
def layer_list(layer_name: str):
    """One page of a layer's records, filtered, searched and sorted."""
    layer = _layer_or_404(layer_name)
    a = _list_args(layer)
    per_page = _int("per_page", PER_PAGE, 1, max(PER_PAGE_CHOICES))
    page_no = _int("page", 1, 1, 1_000_000)
    scope = current_scope()
    page = services.layer_page(layer, scope, page=page_no, per_page=per_page, **a)
    filters = []
    for f in layer.fields:
        if not f.filter:
            continue
        if f.kind == "enum":
            options = [(c, value_label(f.name, c)) for c in f.choices]
        elif f.kind == "ref":
            options = services.ref_choices(f.ref, scope)
        else:
            continue
        # A reference filter is labelled like the name it refers to ("compound", not "compound_id").
        label = field_label(f.name[:-3] if f.kind == "ref" and f.name.endswith("_id") else f.name)
        filters.append({"name": f.name, "label": label, "options": options, "value": request.args.get(f.name, "")})
    return render_template(
        "mappage/list.html",
        layer=layer,
        page=page,
        columns=_columns(layer),
        args=a,
        filters=filters,
        areas=services.area_choices(scope) if layer.scope != "none" else [],
        area=request.args.get("area", ""),
        q=a["q"] or "",
        per_page_choices=PER_PAGE_CHOICES,
        on_map=bool(layer.geom_type),
        query=_query,
        field_label=field_label,
        value_label=value_label,
        csv_url=url_for(
            "mappage.layer_csv",
            layer_name=layer.name,
            **{k: v for k, v in request.args.items() if k not in ("page", "per_page")},
        ),
    )


def _geometry_cells(layer: Layer, geometry: dict | None) -> list:
    """lon, lat of a point layer; the WKT of other geometries; nothing for plain records."""
    if not layer.geom_type:
        return []
    if "Point" in layer.geom_type:
        return list(geometry["coordinates"][:2]) if geometry else ["", ""]
    return [shape(geometry).wkt if geometry else ""]


@bp.get("/layers/<layer_name>.csv")
@login_required
def layer_csv(layer_name: str):
    """The filtered list as CSV (UTF-8 with BOM for Excel): attributes plus lon/lat or WKT."""
    layer = _layer_or_404(layer_name)
    a = _list_args(layer)
    columns = _columns(layer)
    point = bool(layer.geom_type and "Point" in layer.geom_type)
    geo_cols = ["lon", "lat"] if point else (["wkt"] if layer.geom_type else [])
    rows = services.all_rows(layer, current_scope(), **a)
    return csv_response(
        columns + geo_cols,
        ([r.get(c) for c in columns] + _geometry_cells(layer, r.get("geometry")) for r in rows),
        f"{layer.name}.csv",
        stream=True,
    )
