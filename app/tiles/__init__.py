"""Mapbox Vector Tiles of the map layers: ``/tiles/{layer}/{z}/{x}/{y}.mvt`` and TileJSON."""


def init_app(app) -> None:
    """Register the tile endpoints (documented in ``/api/v1/openapi.json`` by their declarations)."""
    from app.tiles import views
    app.config.setdefault("TILE_FEATURE_CAP", 5000)
    app.config.setdefault("TILE_MAX_AGE", 60)
    app.register_blueprint(views.bp)
