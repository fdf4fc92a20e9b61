"""Mapbox Vector Tiles of the map layers: ``/tiles/{layer}/{z}/{x}/{y}.mvt`` and TileJSON."""

import os

from flask_cors import CORS


def cors_origins(app) -> list[str]:
    """Origins allowed to read tiles from a browser: ``WUWEI_CORS_ORIGINS`` (comma-separated)."""
    raw = app.config.get("WUWEI_CORS_ORIGINS", os.environ.get("WUWEI_CORS_ORIGINS", ""))
    return [o.strip() for o in (raw.split(",") if isinstance(raw, str) else raw) if o.strip()]


def init_app(app) -> None:
    """Register the tile endpoints (documented in ``/api/v1/openapi.json`` by their declarations)."""
    from app.tiles import incidents, views
    from app.tiles.sources import register_tile_source

    # The most features a tile may carry before a layer's detail zoom is raised (app/tiles/plan.py).
    app.config.setdefault("TILE_FEATURE_CAP", 5000)
    app.config.setdefault("TILE_PLAN_TTL", 600)
    app.config.setdefault("TILE_MAX_AGE", 60)
    # Per gunicorn worker; 0 turns the tile cache off (app/tiles/cache.py).
    app.config.setdefault("TILE_CACHE_MB", float(os.environ.get("WUWEI_TILE_CACHE_MB", "64")))
    app.register_blueprint(views.bp)
    register_tile_source(incidents.SOURCE)  # the map page's open-incidents overlay (app/tiles/incidents.py)
    origins = cors_origins(app)
    if origins:
        CORS(
            app,
            resources={r"/tiles/.*": {"origins": origins}},
            allow_headers=["Authorization"],
            expose_headers=["ETag"],
            max_age=600,
        )
