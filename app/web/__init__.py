"""The web toolkit: what every feature's pages and API share, written once.

* :mod:`app.web.api` — API blueprints (CSRF rule), the ``endpoint`` declaration (who, query, body,
  answer), JSON reading and answers;
* :mod:`app.web.params` — shared parameter types (paging, bbox, area codes, dates, comma lists);
* :mod:`app.web.openapi` — ``/api/v1/openapi.json``, generated from the declarations;
* :mod:`app.web.errors` — the error envelope, error pages, 503 when the database is unreachable;
* :mod:`app.web.security` — NUL characters refused, security headers, no caching of personal answers;
* :mod:`app.web.pages` — the top bar and template helpers;
* :mod:`app.web.search` — the search box over what features registered (``SEARCH``);
* :mod:`app.web.tables` — CSV and XLSX answers whose cells spreadsheets will not run as formulas.
* :mod:`app.web.etags` — ETag and If-Match (412) on editable records, from PostgreSQL's ``xmin``;
* :mod:`app.web.geometry` — the vertex cap of geometries in request bodies.

``app.web`` may import ``app.core``, ``app.auth`` and below; features import ``app.web``.
"""


def init_app(app) -> None:
    """Error handlers, template helpers and the OpenAPI document."""
    from app.web import errors, openapi, pages, search, security

    errors.init_app(app)
    security.init_app(app)
    pages.init_app(app)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(search.bp)
    app.register_blueprint(search.api)
