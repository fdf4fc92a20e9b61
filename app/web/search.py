"""The search box: one text, every feature's findable records (:data:`app.core.registry.SEARCH`) —
addresses, compounds, buildings, incident numbers, households for those who may read them — listed and
drawn on a map. ``GET /search?q=`` is the page, ``GET /api/v1/search?q=`` the GeoJSON it draws."""

import json
from typing import Annotated

from flask import Blueprint, current_app, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from geojson_pydantic import FeatureCollection
from pydantic import Field, StringConstraints

from app.auth import policy
from app.core.registry import SEARCH
from app.web.api import GEOJSON, ApiBlueprint, endpoint, geojson_response
from app.web.maps import context_layers, map_texts
from app.web.params import Query
from gis.maps import add_layers, base_map, render_parts

PER_KIND = 10
bp = Blueprint("search", __name__)
api = ApiBlueprint("search_api", __name__, tag="search")


class SearchQuery(Query):
    q: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
        Field(description="a name, an address, a number"),
    ]
    limit: Annotated[int, Field(ge=1, le=10000, description="per kind of record, at most 50")] = PER_KIND
    bbox: Annotated[str | None, Field(max_length=200, description="accepted and ignored: results anywhere")] = None


def find(user, text: str, per_kind: int = PER_KIND) -> list[dict]:
    """Every provider's results for ``text``, each with its ``kind`` and the kind's label."""
    text = text.strip()
    out = []
    for p in SEARCH:
        for r in p.search(user, text, per_kind):
            out.append({**r, "kind": p.name, "kind_label": str(p.label)})
    return out


def _geojson(results: list[dict]) -> str:
    features = [
        {
            "type": "Feature",
            "id": i + 1,
            "geometry": {"type": "Point", "coordinates": [round(r["lon"], 7), round(r["lat"], 7)]},
            "properties": {k: r[k] for k in ("kind", "kind_label", "title", "subtitle", "url")},
        }
        for i, r in enumerate(results)
        if r.get("lon") is not None
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)


@api.get("/search")
@endpoint(query=SearchQuery, response=FeatureCollection, media_type=GEOJSON, permission="layers.read")
def search_api(query: SearchQuery):
    """Records matching ``q`` that the user may see, as GeoJSON points (kind, title, subtitle, url)."""
    return geojson_response(_geojson(find(policy.require_login(), query.q, min(query.limit, 50))))


@bp.get("/search")
@login_required
def page():
    """The results in a list and on a map."""
    text = (request.args.get("q") or "").strip()[:100]
    results = find(current_user, text) if text else []
    points = [r for r in results if r.get("lon") is not None]
    m = base_map(
        url_for("static", filename=""),
        basemap=current_app.config["WUWEI_BASEMAP"],
        tianditu_key=current_app.config["WUWEI_TIANDITU_KEY"],
        height="100%",
    )
    layers = context_layers()
    if text:
        layers.append(
            {
                "name": "results",
                "title": _("搜索结果"),
                "url": url_for("search_api.search_api", q=text),
                "geom_type": "Point",
                "style": {"color": "#ffffff", "fillColor": "#b42318", "radius": 9, "weight": 2, "fillOpacity": 1},
                "popup": ["kind_label", "title", "subtitle"],
                "labels": {"kind_label": _("类型"), "title": _("名称"), "subtitle": _("地址")},
                "values": {},
                "label": "title",
                "visible": True,
            }
        )
    bounds = None
    if points:
        lats, lons = [p["lat"] for p in points], [p["lon"] for p in points]
        bounds = [[min(lats) - 0.001, min(lons) - 0.001], [max(lats) + 0.001, max(lons) + 0.001]]
    add_layers(m, layers, texts=map_texts(), bounds=bounds)
    parts = render_parts(m)
    return render_template("search.html", q=text, results=results, map=parts)
