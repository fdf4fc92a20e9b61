"""gis.maps: the folium builder uses only local assets and hands the browser a safe config."""

import json
import re

from gis.maps import add_layers, base_map, render_parts


def _page(**kw):
    m = base_map("/static/", **kw)
    add_layers(
        m,
        [{"name": "chargers", "title": "</script><script>alert(1)</script>", "url": "/api/v1/chargers"}],
        bounds=[[36.0, 103.7], [36.1, 103.95]],
    )
    return render_parts(m)


def test_assets_come_from_static_only():
    parts = _page(basemap="none")
    srcs = re.findall(r'(?:src|href)="([^"]+)"', parts["header"])
    assert srcs and all(s.startswith("/static/") for s in srcs)
    assert "L.tileLayer" not in parts["script"]


def test_config_cannot_close_the_script_element():
    script = _page(basemap="none")["script"]
    assert "</script>" not in script
    cfg = json.loads(re.search(r"Wuwei\.init\(\w+, (\{.*\})\);", script).group(1))
    assert cfg["layers"][0]["title"] == "</script><script>alert(1)</script>"
    assert cfg["bounds"] == [[36.0, 103.7], [36.1, 103.95]]


def test_tianditu_needs_a_key():
    assert "tianditu.gov.cn" not in _page(basemap="tianditu")["script"]
    assert "tk=abc" in _page(basemap="tianditu", tianditu_key="abc")["script"]
    assert "tile.openstreetmap.org" in _page(basemap="osm")["script"]
