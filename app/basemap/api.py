"""``/api/v1/<layer>``: GeoJSON collections of the map layers, with CRUD for editors.

Every layer of :data:`app.basemap.layers.LAYERS` gets its own routes, declared with
:func:`app.web.api.endpoint` and the layer's own models (:mod:`app.basemap.schemas`), so each is
validated and documented with its own attributes and filters. Views read the request and
answer; :mod:`app.basemap.services` does the work in SQL.

``url_for("api.collection", layer_name=…)`` and ``url_for("api.item", layer_name=…, fid=…)``
build any layer's URLs (build-only rules: requests are routed to the layer's own rules).
"""

import functools
import json

from flask import request, url_for
from sqlalchemy import and_

from app.auth import policy
from app.basemap import schemas, services
from app.basemap.layers import LAYERS, Layer
from app.core.errors import ApiError
from app.web.api import GEOJSON, ApiBlueprint, endpoint, geojson_response
from app.web.etags import Versioned

bp = ApiBlueprint("api", __name__, tag="layers")


def _page_links(layer_name: str, limit: int, offset: int, returned: int, matched: int | None) -> list[dict]:
    args = {k: v for k, v in request.args.items() if k not in ("offset",)}
    links = [{"rel": "self", "type": GEOJSON, "href": request.url}]
    more = offset + returned < matched if matched is not None else returned >= limit  # not counted: a full page
    if more:
        links.append(
            {
                "rel": "next",
                "type": GEOJSON,
                "href": url_for(
                    "api.collection", layer_name=layer_name, _external=True, **{**args, "offset": offset + limit}
                ),
            }
        )
    if offset > 0:
        links.append(
            {
                "rel": "prev",
                "type": GEOJSON,
                "href": url_for(
                    "api.collection",
                    layer_name=layer_name,
                    _external=True,
                    **{**args, "offset": max(0, offset - limit)},
                ),
            }
        )
    return links


def _feature(feature: dict, status: int = 200):
    return geojson_response(json.dumps(feature, ensure_ascii=False), status)


def _named_by_attribute(view):
    """A refused body's fields are named ``ports`` and ``geometry``, not ``properties.ports``."""

    @functools.wraps(view)
    def call(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except ApiError as e:
            raise schemas.feature_error(e) from None

    return call


def versioned(layer: Layer) -> Versioned:
    """A layer's features as versioned records: ``ETag`` on ``/<layer>/<id>``, ``If-Match`` on its writes."""
    t = services.table_of(layer)
    return Versioned(
        layer.name, t, key="id", visible=lambda: and_(*services.layer_conditions(layer, t, policy.current_scope()))
    )


def _reads(layer: Layer, slug: str, title: str) -> None:
    """GET ``/<layer>`` and ``/<layer>/<id>``."""
    tags = (layer.name,)

    def collection(query):
        a = schemas.list_args(layer, query)
        features, matched, returned = services.list_features(layer, policy.current_scope(), **a)
        head = {
            "type": "FeatureCollection",
            "numberMatched": matched,
            "numberReturned": returned,
            "links": _page_links(layer.name, a["limit"], a["offset"], returned, matched),
        }
        return geojson_response(json.dumps(head, ensure_ascii=False)[:-1] + ',"features":' + features + "}")

    collection.__doc__ = (
        f"{title}: a page as a GeoJSON FeatureCollection\n\n"
        "With numberMatched/numberReturned and next/prev links; in the user's area. numberMatched is "
        "counted on a full page only with count=true (null otherwise: follow next)."
    )

    def item(id: int):
        feature = services.get_feature(layer, policy.current_scope(), id)
        if feature is None:
            raise ApiError(404, f"no {layer.name} feature {id} in your area")
        return _feature(feature)

    item.__doc__ = f"{title}: one feature, if it lies in the user's area"

    bp.add_url_rule(
        f"/{layer.name}",
        f"{slug}_collection",
        methods=["GET"],
        view_func=endpoint(
            query=schemas.list_query(layer),
            response=schemas.collection_out(layer),
            permission="layers.read",
            tags=tags,
            media_type=GEOJSON,
        )(collection),
    )
    bp.add_url_rule(
        f"/{layer.name}/<int:id>",
        f"{slug}_item",
        methods=["GET"],
        view_func=endpoint(
            response=schemas.feature_out(layer),
            permission="layers.read",
            errors=(404,),
            tags=tags,
            media_type=GEOJSON,
            versioned=versioned(layer),
        )(item),
    )


def _writes(layer: Layer, slug: str, title: str) -> None:
    """POST ``/<layer>``; PATCH, PUT and DELETE ``/<layer>/<id>``."""
    tags = (layer.name,)
    record = versioned(layer)
    full, partial = schemas.feature_in(layer), schemas.feature_in(layer, partial=True)
    answer = schemas.feature_out(layer)
    edit = layer.edit_permission

    def create(body):
        feature = services.create_feature(layer, policy.current_scope(), body)
        resp = _feature(feature, 201)
        resp.headers["Location"] = url_for("api.item", layer_name=layer.name, fid=feature["id"])
        version = record.read(feature["id"])
        if version is not None:
            resp.set_etag(record.etag(feature["id"], version))
        return resp

    create.__doc__ = f"{title}: create a feature (its grid is assigned by PostGIS)"

    def patch(id: int, body):
        return _feature(services.update_feature(layer, policy.current_scope(), id, body, partial=True))

    patch.__doc__ = f"{title}: change the properties (and geometry) sent"

    def put(id: int, body):
        return _feature(services.update_feature(layer, policy.current_scope(), id, body, partial=False))

    put.__doc__ = f"{title}: replace a feature (required properties and the geometry needed)"

    def delete(id: int):
        services.delete_feature(layer, policy.current_scope(), id)
        return "", 204

    delete.__doc__ = f"{title}: delete a feature (409 while other rows depend on it)"

    def declare(rule, name, method, view, **kw):
        bp.add_url_rule(
            rule,
            f"{slug}_{name}",
            methods=[method],
            view_func=_named_by_attribute(endpoint(permission=edit, tags=tags, media_type=GEOJSON, **kw)(view)),
        )

    declare(f"/{layer.name}", "create", "POST", create, body=full, response=answer, status=201, errors=(409,))
    one = f"/{layer.name}/<int:id>"
    declare(one, "patch", "PATCH", patch, body=partial, response=answer, errors=(404, 409), versioned=record)
    declare(one, "put", "PUT", put, body=full, response=answer, errors=(404, 409), versioned=record)
    declare(one, "delete", "DELETE", delete, status=204, errors=(404, 409), versioned=record)


def add_layer_routes(layer: Layer) -> None:
    """Declare the routes of ``layer`` (before the blueprint is registered)."""
    slug = layer.name.replace("-", "_")
    title = f"{layer.title} ({layer.name})"
    _reads(layer, slug, title)
    _writes(layer, slug, title)


def _build_only():  # pragma: no cover - build-only rules never match a request
    raise ApiError(404, "not found")


for _layer in LAYERS.values():
    add_layer_routes(_layer)
bp.add_url_rule("/<layer_name>", "collection", _build_only, build_only=True)
bp.add_url_rule("/<layer_name>/<int:fid>", "item", _build_only, build_only=True)
