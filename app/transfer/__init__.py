"""Import and export of map layers as GIS files (GeoJSON, GeoPackage, Shapefile zip, CSV, KML).

``flask --app app import LAYER FILE`` / ``export LAYER FILE`` and, for planners,
``GET /api/v1/<layer>/export`` and ``POST /api/v1/<layer>/import``. File formats are
handled by :mod:`gis.fileio`; every imported row goes through the layer API's own
parsing and validation (:func:`app.basemap.services.parse_feature`).
"""


def init_app(app) -> None:
    """Register the CLI commands, the HTTP endpoints and their OpenAPI paths."""
    from app.core.extensions import csrf
    from app.transfer import cli, views
    app.cli.add_command(cli.import_cmd)
    app.cli.add_command(cli.export_cmd)
    csrf.exempt(views.bp)  # checked in app.basemap.api._protect for cookie sessions only
    app.register_blueprint(views.bp)
