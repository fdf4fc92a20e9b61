"""The JSON/GeoJSON API under ``/api/v1/`` and its OpenAPI document."""


def init_app(app) -> None:
    """Register the layer API and ``/api/v1/openapi.json``."""
    from app.api import openapi, views
    from app.core.extensions import csrf
    csrf.exempt(views.bp)  # checked in views._protect for cookie sessions only
    app.register_blueprint(views.bp)
    openapi.register_layer_paths()
