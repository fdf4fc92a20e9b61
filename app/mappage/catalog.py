"""What the map page offers: the API layers and the features' overlays, as browser config.

Each entry becomes one layer in ``static/js/wuwei-map.js``: a URL the browser
fetches with ``bbox`` and ``limit``, a style, the popup attributes with their
localised labels, and the colours that the legend explains.
"""

from flask import url_for

from app.auth import policy
from app.basemap.layers import LAYERS, Layer
from app.core.registry import OVERLAYS, Overlay
from app.web.labels import field_label, value_labels
from app.web.maps import overlay_config

# How the base-map layers look and what their popups say; layers registered later by
# other features fall back to their own ``Layer.style`` and every attribute.
MAP_OPTIONS: dict[str, dict] = {
    "areas": dict(
        order=10,
        query={"level": "district,street,community"},
        popup=["name", "level", "code", "area_km2"],
        style_by="level",
        styles={
            "district": {"color": "#5b21b6", "weight": 3, "fillOpacity": 0, "dashArray": "10 6"},
            "street": {"color": "#7c3aed", "weight": 2, "fillOpacity": 0, "dashArray": "6 4"},
            "community": {"color": "#7c3aed", "weight": 2.5, "fillColor": "#ede9fe", "fillOpacity": 0.35},
        },
        label="name",
        label_filter={"level": ["community"]},
    ),
    "grids": dict(
        order=20,
        popup=["name", "code", "level", "workers", "area_km2"],
        style={"color": "#b42318", "weight": 1.5, "fillOpacity": 0.02},
        style_by="level",
        styles={"grid": {}, "micro_grid": {"weight": 0.8, "dashArray": "3 4", "fillOpacity": 0}},
    ),
    "compounds": dict(
        order=30,
        popup=["name", "address", "property_company", "alliance_standing", "grid_name"],
        label="name",
        label_min_zoom=15,
    ),
    "buildings": dict(
        order=40,
        tiles=True,  # 100,000 buildings: drawn from vector tiles, never as pages of GeoJSON
        popup=["name", "address", "floors", "households", "ebikes", "charging_note", "compound", "grid_name"],
    ),
    "bike-zones": dict(
        order=50,
        popup=["name", "kind", "status", "capacity", "grid_name"],
        color_by="status",
        colors={"active": "#0e7490", "planned": "#a855f7", "closed": "#6b7280"},
        style={"weight": 2, "fillOpacity": 0.55},
    ),
    "chargers": dict(
        order=60,
        popup=["name", "status", "ports", "power_kw", "compound", "operator", "installed_on", "grid_name"],
        color_by="status",
        colors={"installed": "#059669", "planned": "#2563eb", "faulty": "#dc2626", "removed": "#6b7280"},
        style={"radius": 7, "weight": 1.5, "color": "#ffffff", "fillOpacity": 0.95},
    ),
}

# Attributes never worth a popup row: ids that a computed name already explains.
_HIDDEN = {"grid_id", "compound_id", "property_company_id"}


def map_layers() -> list[Layer]:
    """The API layers that have a geometry, in drawing order (areas below, points on top)."""
    layers = [layer for layer in LAYERS.values() if layer.geom_type]
    return sorted(layers, key=lambda l: (MAP_OPTIONS.get(l.name, {}).get("order", 55), l.name))


def _popup_names(layer: Layer) -> list[str]:
    names = [f.name for f in layer.fields] + list(layer.computed)
    return [n for n in names if n not in _HIDDEN]


def layer_config(layer: Layer) -> dict:
    """Browser config of one API layer."""
    opts = MAP_OPTIONS.get(layer.name, {})
    popup = opts.get("popup") or _popup_names(layer)
    style = {**layer.style, **opts.get("style", {})}
    if layer.geom_type and "Point" in layer.geom_type:
        style.setdefault("fillColor", style.get("color"))
    enums = [f.name for f in layer.fields if f.kind == "enum"]
    return {
        "name": layer.name,
        "title": str(layer.title),
        "kind": "layer",
        "url": url_for("api.collection", layer_name=layer.name, **opts.get("query", {})),
        "list_url": url_for("mappage.layer_list", layer_name=layer.name),
        "search_param": "q" if layer.searchable == "name" else None,
        "geom_type": layer.geom_type,
        "style": style,
        "min_zoom": layer.min_zoom,
        "popup": popup,
        "labels": {n: field_label(n) for n in popup},
        "values": value_labels(enums),
        "color_by": opts.get("color_by"),
        "colors": opts.get("colors", {}),
        "style_by": opts.get("style_by"),
        "styles": opts.get("styles", {}),
        "label": opts.get("label"),
        "label_filter": opts.get("label_filter"),
        "label_min_zoom": opts.get("label_min_zoom", 0),
        "visible": opts.get("visible", True),
        "tiles": _tiles_url(layer.name) if opts.get("tiles") else None,
        "tiles_max_zoom": TILES_MAX_ZOOM,
    }


TILES_MAX_ZOOM = 16  # app.tiles.plan.NATIVE_MAX_ZOOM: finer zooms scale the z16 tiles up


def _tiles_url(name: str) -> str:
    """The layer's ``/tiles/{name}/{z}/{x}/{y}.mvt`` template (Leaflet fills in z, x and y)."""
    return url_for("tiles.tile", layer=name, z=0, x=0, y=0).replace("/0/0/0.mvt", "/{z}/{x}/{y}.mvt")


def offered(o: Overlay, user) -> bool:
    """Whether ``user`` may switch ``o`` on."""
    return o.permission is None or policy.can(user, o.permission)


def overlays_for(user) -> list[Overlay]:
    """The overlays ``user`` may switch on, in their order."""
    return [o for o in OVERLAYS if offered(o, user)]


def page_layers(user) -> list[dict]:
    """Every layer of the map page for ``user``."""
    return [layer_config(l) for l in map_layers()] + [overlay_config(o) for o in overlays_for(user)]


def focus_url(name: str, fid: int, user) -> str | None:
    """URL of the one feature ``/?focus=<name>:<id>`` opens on; None when ``name`` is no map layer."""
    if name in LAYERS and LAYERS[name].geom_type:
        return url_for("api.item", layer_name=name, fid=fid)
    o = OVERLAYS.get(name)
    if o is not None and offered(o, user):
        return url_for(o.item_endpoint, **{o.item_id_arg: fid}) if o.item_endpoint else ""
    return None
