"""The OpenAPI 3.0 document of ``/ogcapi`` (served at ``/ogcapi/api``), generated from declarations.

A second spectree instance, :data:`ogc_spec` (strict: it describes only the views declared with it),
documents the OGC routes from their Flask rules and their query models (:mod:`app.ogcapi.params`).
Each collection has rules of its own (:mod:`app.ogcapi.views`), so the document lists each
collection's items path with its property filters: GDAL sends an attribute filter to the server
only for a parameter it finds on ``/collections/{name}/items``. Paths are relative to the server
URL (the landing page), as OGC API clients expect.

The generic routes (``/ogcapi/collections/{collectionId}/items`` …) are also described in the app's
own ``/api/v1/openapi.json``, by :data:`app.web.openapi.spec`. Nothing here is written by hand but
the document's head: title, security schemes, the server URL.
"""

import copy
import functools
from collections.abc import Callable

from pydantic import BaseModel, Field
from spectree import Response, SecurityScheme, SecuritySchemeData, SpecTree, Tag

PREFIX = "/ogcapi"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"


class OgcException(BaseModel):
    """An OGC API exception (``/req/core/query-param-invalid`` and friends)."""

    code: str = Field(description="InvalidParameterValue, NotAuthorized, NotFound …")
    description: str = Field(description="what went wrong, for people")


ogc_spec = SpecTree(
    "flask",
    mode="strict",
    annotations=False,
    naming_strategy=lambda model: model.__name__,
    nested_naming_strategy=lambda parent, child: child,
    validation_error_status=400,
    validation_error_model=OgcException,
    openapi_version="3.0.3",
    title="Wuwei (五微) OGC API - Features",
    version="1.0",
    description="Published, non-personal map layers of Wuwei. /collections and below need a login: a session "
    "cookie or 'Authorization: Bearer <token>' (flask --app app tokens create --user U).",
    security_schemes=[
        SecurityScheme(name="bearer", data=SecuritySchemeData(type="http", scheme="bearer")),
        SecurityScheme(name="session", data=SecuritySchemeData(type="apiKey", field_in="cookie", name="session")),
    ],
    security=[{"bearer": []}, {"session": []}],
)
SERVER = Tag(name="server", description="the landing page, conformance classes, this document, the collections")
_query_models: set[str] = set()


def responses(ok: str, *errors: int) -> Response:
    """A 200 described by ``ok`` (GeoJSON, or a page by ``f``) and OGC exceptions for ``errors``."""
    return Response(HTTP_200=(None, ok), **{f"HTTP_{code}": OgcException for code in errors})


def describe(
    view: Callable,
    spec: SpecTree,
    *,
    query: type[BaseModel] | None,
    ok: str,
    errors: tuple[int, ...],
    public: bool = False,
    tags=(),
    operation_id: str | None = None,
) -> Callable:
    """``view`` as Flask calls it, described in ``spec``'s document (spectree only documents: the
    views parse their queries with the same models, so that a bad one is an OGC exception)."""
    if spec is ogc_spec and query is not None:
        _query_models.add(query.__name__)

    @functools.wraps(view)
    def call(*args, **kwargs):
        return view(*args, **kwargs)

    call.__wrapped__ = spec.validate(
        query=query,
        resp=responses(ok, *errors),
        tags=tags,
        operation_id=operation_id,
        security={} if public else None,
        validation_error_status=400,
    )(view)
    return call


def document(server_url: str) -> dict:
    """The OGC API's OpenAPI document with ``server_url`` (the landing page) as its server."""
    doc = copy.deepcopy(ogc_spec.spec)
    doc["servers"] = [{"url": server_url}]
    doc["paths"] = {path.removeprefix(PREFIX) or "/": item for path, item in doc["paths"].items()}
    # A query model is described by its parameters; its schema (which carries the parameters' style)
    # is referenced by nothing.
    schemas = doc["components"]["schemas"]
    for name in _query_models:
        schemas.pop(name, None)
    return doc
