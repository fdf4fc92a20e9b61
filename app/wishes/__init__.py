"""微心愿 (micro-wishes): models, services, API, the board, the public wall and the map overlay."""
from flask_babel import lazy_gettext as _l

from app.wishes import models  # noqa: F401


def init_app(app) -> None:
    from app.households.openapi import INT, STR, obj, op, path_id
    from app.web.openapi import register_paths
    from app.core.registry import Overlay, register_overlay
    from app.core.registry import register_nav
    from app.wishes import api, views
    from app.wishes.models import WISH_CATEGORIES
    app.register_blueprint(api.bp)
    app.register_blueprint(views.bp)
    from app.wishes import figures, heat  # noqa: F401  (they register a dashboard figure and a heat source)
    register_nav("wishes.board", _l("微心愿"), "wishes.board", 42)
    register_overlay(Overlay(
        name="wishes_open", title=_l("未实现微心愿（按网格）"), endpoint="wishes_api.overlay_open_wishes",
        geom_type="MultiPolygon", popup=["grid_name", "label"],
        style={"color": "#7c3aed", "weight": 1, "fillOpacity": 0.15}, order=61,
        labels={"grid_name": _l("网格"), "label": _l("未实现心愿")}, list_endpoint="wishes.wall", label="label"))
    t = "wishes"
    register_paths({
        "/api/v1/wishes/wall": {"get": op("public wish wall: no login, no personal data", t,
                                          [("community", "12-digit code"), ("status", "posted|claimed|fulfilled")],
                                          public=True)},
        "/api/v1/wishes": {"get": op("wishes in full (personal readers)", t, [("status", ""), ("grid", "")]),
                           "post": op("post a wish for a household or building", t, body="wish", ok="201")},
        "/api/v1/wishes/{id}": {"parameters": path_id(), "get": op("one wish (audited)", t)},
        "/api/v1/wishes/{id}/claim": {"parameters": path_id(), "post": op("posted → claimed", t, body="wish_claim")},
        "/api/v1/wishes/{id}/release": {"parameters": path_id(), "post": op("claimed → posted", t)},
        "/api/v1/wishes/{id}/fulfil": {"parameters": path_id(), "post": op(
            "claimed → fulfilled; JSON {note} or multipart note + photo", t, body="wish_note")},
        "/api/v1/wishes/{id}/withdraw": {"parameters": path_id(), "post": op("→ withdrawn", t, body="wish_reason")},
        "/api/v1/overlays/wishes-open": {"get": op("map overlay: open wishes per grid (GeoJSON; suppressed counts)",
                                                   t, [("bbox", ""), ("limit", "")], content="application/geo+json")},
    }, {"wish": obj(["title", "category"], household_id=INT, building_id=INT, title=STR, details=STR,
                    category={"type": "string", "enum": list(WISH_CATEGORIES)}),
        "wish_claim": obj([], volunteer_id=INT, team_id=INT), "wish_note": obj(["note"], note=STR),
        "wish_reason": obj(["reason"], reason=STR)})
