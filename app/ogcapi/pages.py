"""The HTML side of ``/ogcapi`` (conformance class ``html``): the map on a collection's items page."""

from flask import current_app, url_for
from flask_babel import gettext as _

from app.auth import policy
from app.ogcapi import services
from gis.maps import add_layers, base_map, render_parts


def items_map(public) -> dict:
    """A folium map whose browser loader fetches this collection's items for the visible bbox."""
    layer = public.layer
    minx, miny, maxx, maxy = services.extent(public, policy.current_scope())["spatial"]["bbox"][0]
    m = base_map(
        url_for("static", filename=""),
        basemap=current_app.config["WUWEI_BASEMAP"],
        tianditu_key=current_app.config.get("WUWEI_TIANDITU_KEY", ""),
        height="420px",
    )
    add_layers(
        m,
        [
            {
                "name": public.name,
                "title": str(layer.title),
                "geom_type": layer.geom_type,
                "url": url_for("ogcapi.items", collectionId=public.name, f="json"),
                "style": layer.style,
                "min_zoom": public.min_zoom,
                "popup": [p.name for p in public.properties][:6],
                "visible": True,
            }
        ],
        bounds=[[miny, minx], [maxy, maxx]],
        texts={
            "layers": _("图层与图例"),
            "loading": _("加载中…"),
            "empty": _("无数据"),
            "error": _("加载失败"),
            "zoom_in": _("放大后显示"),
        },
    )
    return render_parts(m)
