"""What every page with a map shares: the layer loader's UI strings and an overlay's browser config.

The map page (``app.mappage``) and the feature pages with a small map (an incident, a patrol) build
their folium maps with :mod:`gis.maps` and describe the layers the browser loads with these.
"""

from flask import url_for
from flask_babel import gettext as _

from app.core.registry import Overlay
from app.web.labels import FIELD_LABELS, VALUE_LABELS, value_labels


def map_texts() -> dict:
    """The layer loader's UI strings in the current language."""
    return {
        "layers": _("图层与图例"),
        "loading": _("加载中…"),
        "empty": _("无数据"),
        "error": _("加载失败"),
        "zoom_in": _("放大后显示"),
        "shown_of": _("显示 %(shown)s / %(total)s", shown="{shown}", total="{total}"),
        "list": _("列表"),
        "show_list": _("在列表中查看"),
        "focus_missing": _("要定位的要素不存在或不在您的辖区内"),
        "toggle": _("图层"),
        "busy": _("正在加载图层…"),
        "yes": _("是"),
        "no": _("否"),
    }


def overlay_config(o: Overlay) -> dict:
    """Browser config of one feature overlay."""
    labels = {n: str(o.labels.get(n) or FIELD_LABELS.get(n) or n) for n in (o.popup or [])}
    values = {n: {k: str(v) for k, v in m.items()} for n, m in o.value_labels.items()}
    if o.color_by and o.color_by not in values and o.color_by in VALUE_LABELS:
        values.update(value_labels([o.color_by]))
    style = dict(o.style)
    if "Point" in (o.geom_type or ""):
        style.setdefault("fillColor", style.get("color"))
    return {
        "name": o.name,
        "title": str(o.title),
        "kind": "overlay",
        "url": url_for(o.endpoint, **o.url_kwargs),
        "list_url": url_for(o.list_endpoint) if o.list_endpoint else None,
        "search_param": None,
        "geom_type": o.geom_type,
        "style": style,
        "min_zoom": o.min_zoom,
        "popup": o.popup,
        "labels": labels,
        "values": values,
        "color_by": o.color_by,
        "colors": o.colors,
        "style_by": None,
        "styles": {},
        "label": o.label,
        "label_filter": None,
        "label_min_zoom": 0,
        "visible": o.visible,
        "tiles": _tiles_url(o.tiles) if o.tiles else None,
        "tiles_max_zoom": TILES_MAX_ZOOM,
    }


TILES_MAX_ZOOM = 16  # app.tiles.plan.NATIVE_MAX_ZOOM: finer zooms scale the z16 tiles up


def _tiles_url(name: str) -> str:
    """The ``/tiles/{name}/{z}/{x}/{y}.mvt`` template of a tile source (Leaflet fills in z, x and y)."""
    return url_for("tiles.tile", layer=name, z=0, x=0, y=0).replace("/0/0/0.mvt", "/{z}/{x}/{y}.mvt")


def context_layers(interactive: bool = True) -> list[dict]:
    """What every small map shows under its own records, so a dot has a place: community and street
    outlines with names, grids with names, compounds with names, buildings from zoom 15.

    ``interactive=False`` (the report form): taps go through to the map, which places the pin.
    """

    def layer(name, title, style, **more) -> dict:
        d = {
            "name": f"ctx-{name}",
            "title": title,
            "kind": "context",
            "url": url_for("api.collection", layer_name=more.pop("api", name), **more.pop("query", {})),
            "geom_type": "MultiPolygon",
            "style": {**style, "interactive": interactive},
            "interactive": interactive,
            "popup": ["name", "code"] if interactive else [],
            "labels": {"name": str(FIELD_LABELS["name"]), "code": str(FIELD_LABELS["code"])},
            "values": {},
            "label": "name",
            "visible": True,
        }
        d.update(more)
        return d

    return [
        layer(
            "areas",
            _("社区"),
            {"color": "#7c3aed", "weight": 2, "fillOpacity": 0, "dashArray": "8 5"},
            api="areas",
            query={"level": "street,community"},
            label_filter={"level": ["community"]},
        ),
        layer(
            "grids",
            _("网格"),
            {"color": "#b42318", "weight": 1.2, "fillOpacity": 0},
            label_min_zoom=16,
            label_filter={"level": ["grid"]},  # micro-grids' long names would cover the map
        ),
        layer(
            "compounds",
            _("小区"),
            {"color": "#475569", "weight": 1, "fillColor": "#cbd5e1", "fillOpacity": 0.2},
            label_min_zoom=16,
        ),
        layer(
            "buildings",
            _("楼栋"),
            {"color": "#94a3b8", "weight": 0.8, "fillColor": "#e2e8f0", "fillOpacity": 0.5},
            min_zoom=15,
            label=None,
        ),
    ]
