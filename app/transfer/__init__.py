"""Import and export of map layers as GIS files (GeoJSON, GeoPackage, Shapefile zip, CSV, KML).

``flask --app app import LAYER FILE`` / ``export LAYER FILE`` and, for planners,
``GET /api/v1/<layer>/export`` and ``POST /api/v1/<layer>/import``. File formats are
handled by :mod:`gis.fileio`; every imported row goes through the layer API's own
parsing and validation (:func:`app.basemap.services.parse_feature`).
"""


def init_app(app) -> None:
    """Register the CLI commands and the HTTP endpoints (documented by their declarations)."""
    from app.transfer import cli, views
    app.cli.add_command(cli.import_cmd)
    app.cli.add_command(cli.export_cmd)
    app.register_blueprint(views.bp)
