"""Import and export of map layers as GIS files (GeoJSON, GeoPackage, Shapefile zip, CSV, KML).

``flask --app app import LAYER FILE`` / ``export LAYER FILE`` and, for planners,
``GET /api/v1/<layer>/export`` and ``POST /api/v1/<layer>/import`` (big files through the jobs
worker: ``GET /api/v1/imports/<id>``), and the import page ``/layers/<layer>/import`` (a dry run
with a map preview first). File formats are handled by :mod:`gis.fileio`; every
imported row goes through the layer API's own parsing and validation
(:func:`app.basemap.services.parse_feature`).
"""

from app.core import jobs as job_queue
from app.transfer import models  # noqa: F401  (registers the table)


def init_app(app) -> None:
    """Register the CLI commands, the HTTP endpoints (documented by their declarations) and the
    import task of the jobs worker (``flask jobs worker``)."""
    from app.transfer import cli, jobs, pages, views  # noqa: F401  (jobs: the task on the queue)

    app.cli.add_command(cli.import_cmd)
    app.cli.add_command(cli.export_cmd)
    app.register_blueprint(views.bp)
    app.register_blueprint(pages.bp)
    job_queue.init_app(app)
