"""Folium map builders: every asset from ``static/``, every layer loaded by the browser.

folium points at CDNs by default and, given a URL, downloads GeoJSON on the
server; here the page only carries a small JSON config and ``static/js/wuwei-map.js``
fetches each layer for the visible bbox.
"""

import json

import folium
from branca.element import Element, MacroElement
from jinja2 import Template

OSM_TILES = "https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTR = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a>'
TIANDITU_TILES = (
    "https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER=vec&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}"
    "&TILECOL={x}&tk=%s"
)
TIANDITU_LABELS = (
    "https://t{s}.tianditu.gov.cn/cva_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER=cva&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}"
    "&TILECOL={x}&tk=%s"
)


def base_map(
    static_prefix: str,
    center=(36.06, 103.84),
    zoom: int = 13,
    basemap: str = "osm",
    tianditu_key: str = "",
    height: str = "100%",
    editing: bool = False,
    vector_tiles: bool = False,
) -> folium.Map:
    """A folium Map using the vendored Leaflet under ``static_prefix`` (e.g. ``/static/``).

    ``basemap`` is ``osm``, ``tianditu`` (needs a key) or ``none``; the map works without one.
    ``editing`` adds the vendored Leaflet-Geoman and ``static/js/wuwei-edit.js`` (drawing and editing);
    ``vector_tiles`` the vendored Leaflet.VectorGrid (layers drawn from ``/tiles``).
    """
    m = folium.Map(
        location=list(center), zoom_start=zoom, tiles=None, control_scale=False, height=height, prefer_canvas=False
    )
    m.default_js = [
        ("leaflet", f"{static_prefix}vendor/leaflet/leaflet.js"),
        ("wuwei_map", f"{static_prefix}js/wuwei-map.js"),
    ]
    m.default_css = [
        ("leaflet_css", f"{static_prefix}vendor/leaflet/leaflet.css"),
        ("wuwei_map_css", f"{static_prefix}css/wuwei-map.css"),
    ]
    if vector_tiles:
        m.default_js.insert(
            1, ("vectorgrid", f"{static_prefix}vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js")
        )
    if editing:
        m.default_js[1:1] = [
            ("geoman", f"{static_prefix}vendor/leaflet-geoman/leaflet-geoman.min.js"),
            ("wuwei_edit", f"{static_prefix}js/wuwei-edit.js"),
        ]
        m.default_css += [
            ("geoman_css", f"{static_prefix}vendor/leaflet-geoman/leaflet-geoman.css"),
            ("wuwei_edit_css", f"{static_prefix}css/wuwei-edit.css"),
        ]
    if basemap == "osm":
        folium.TileLayer(OSM_TILES, attr=OSM_ATTR, name="OpenStreetMap", max_zoom=19, subdomains="abc").add_to(m)
    elif basemap == "tianditu" and tianditu_key:
        # Without a key Tianditu answers every tile with an error image: no tiles is better.
        folium.TileLayer(
            TIANDITU_TILES % tianditu_key, attr="天地图", name="天地图", max_zoom=18, subdomains="01234567"
        ).add_to(m)
        folium.TileLayer(
            TIANDITU_LABELS % tianditu_key,
            attr="天地图",
            name="天地图注记",
            overlay=True,
            control=False,
            max_zoom=18,
            subdomains="01234567",
        ).add_to(m)
    return m


class LayerLoader(MacroElement):
    """Hands the layer list to ``Wuwei.init`` in the browser, which fetches each layer by bbox."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        Wuwei.init({{ this._parent.get_name() }}, {{ this.config_json }});
        {% endmacro %}
    """)

    def __init__(self, layers: list[dict], options: dict | None = None):
        super().__init__()
        self._name = "WuweiLayerLoader"
        # Inside <script>: "</" must not end the element, whatever a title or label contains.
        self.config_json = json.dumps({"layers": layers, **(options or {})}, ensure_ascii=False).replace("</", "<\\/")


def add_layers(m: folium.Map, layers: list[dict], **options) -> folium.Map:
    """Add browser-loaded layers, drawn in list order (later on top).

    Each dict has ``name``, ``title``, ``url`` (answers GeoJSON for ``?bbox=&limit=``), ``style``,
    ``geom_type``, ``min_zoom``, ``popup`` (property names), ``labels`` (name → text), ``values``
    (name → {code → text}), ``color_by``/``colors``, ``style_by``/``styles``, ``label`` (property
    drawn on the feature), ``list_url`` and ``visible``. ``options`` may hold ``bounds``
    ([[south, west], [north, east]] to open on), ``focus`` ({layer, id, url}) and ``texts``
    (the loader's UI strings in the page language)."""
    LayerLoader(layers, options).add_to(m)
    return m


def render_parts(m: folium.Map) -> dict:
    """The pieces of a folium page to place in a Jinja template: header, body html, script."""
    root = m.get_root()
    root.render()
    return {"header": root.header.render(), "html": root.html.render(), "script": root.script.render()}


def add_legend(m: folium.Map, html: str) -> None:
    """A legend box in the bottom-left corner (``html`` is trusted, built by the app)."""
    m.get_root().html.add_child(Element(f'<div class="legend wuwei-legend">{html}</div>'))
