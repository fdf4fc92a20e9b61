"""Editing on the map: check a feature before saving it, its history and undo, splitting and merging grids.

* ``POST /api/v1/<layer>/check``: the problems a write would meet, in the user's language, with what
  the map shows (:mod:`app.basemap.checks`); nothing is written.
* ``GET /api/v1/<layer>/<id>/history`` and ``POST …/history/<entry>/undo`` (:mod:`app.basemap.history`).
* ``POST /api/v1/grids/<id>/split`` and ``POST /api/v1/grids/merge`` (:mod:`app.areas.regrid`), with
  ``dry_run`` for the preview.
"""

from typing import Annotated, Any, Literal

import geojson_pydantic as gj
from flask import Response
from pydantic import BaseModel, Field, WrapValidator
from pydantic_core import PydanticCustomError

from app.areas import regrid
from app.areas.models import Area
from app.auth import policy
from app.basemap import checks, history, services
from app.basemap.api import bp, versioned
from app.basemap.layers import LAYERS, Layer
from app.core.errors import ApiError
from app.core.extensions import db
from app.web.api import GEOJSON, endpoint, json_response
from app.web.geometry import check_vertices
from app.web.params import Body, Id, invalid
from app.web.values import Text
from gis.geometry import GeometryError, parse_geometry


def _layer(name: str) -> Layer:
    """A layer drawn on the map (the ones edited there); 404 otherwise."""
    layer = LAYERS.get(name)
    if layer is None or not layer.geom_type:
        raise ApiError(
            404, f"no map layer {name!r}; layers: {', '.join(sorted(n for n, l in LAYERS.items() if l.geom_type))}"
        )
    return layer


# --------------------------------------------------------------------------- check


class CheckIn(Body):
    """A feature as ``POST /api/v1/<layer>`` (``id`` left out) or ``PATCH /api/v1/<layer>/<id>`` takes it."""

    feature: Annotated[dict[str, Any], Field(description="a GeoJSON Feature (or its properties and geometry)")]
    id: Annotated[Id | None, Field(description="the feature being changed; none for a new one")] = None


class Problem(BaseModel):
    field: str = Field(description="the attribute, 'geometry', or '' for the whole feature")
    code: str = Field(
        description="field, geometry_invalid, geometry_type, geometry_range, overlaps, "
        "outside_parent, leaves_child, outside_area, taken, rule, refused"
    )
    message: str = Field(description="in the user's language")
    label: str | None = Field(None, description="field: the message with the attribute's name, for a list")
    reason: str | None = Field(None, description="geometry_invalid: GEOS' reason (Self-intersection …)")
    location: list[float] | None = Field(None, description="geometry_invalid: [lon, lat] where it is")
    repair: dict | None = Field(None, description="geometry_invalid: a valid geometry (make_valid) to offer")
    shape: dict | None = Field(None, description="the part to draw: the overlap, the part outside")
    other: dict | None = Field(None, description="the other area (code, name)")


class CheckOut(BaseModel):
    ok: bool
    problems: list[Problem]


@bp.post("/<layer>/check")
@endpoint(body=CheckIn, response=CheckOut, permission="layers.edit", errors=(403, 404))
def check(layer: str, body: CheckIn):
    """Check a feature before saving it: every problem the write would meet, nothing written

    The same parsing and rules as the layer's POST (PATCH when ``id`` is given): attributes, geometry
    (with GEOS' reason, where it is and a repaired geometry to offer), the layer's rules (areas nest,
    grids don't overlap: the overlap's shape) and the user's area. Messages in the user's language.
    """
    found = _layer(layer)
    geometry = body.feature.get("geometry")
    try:
        check_vertices(geometry)
    except PydanticCustomError as e:
        problem = {"field": "geometry", "code": "geometry_too_big", "message": checks.field_message("geometry", str(e))}
        return json_response({"ok": False, "problems": [problem]})
    problems = checks.check_feature(found, policy.current_scope(), body.feature, body.id)
    return json_response({"ok": not problems, "problems": problems})


# --------------------------------------------------------------------------- history and undo


class Version(BaseModel):
    id: int = Field(description="the audit entry")
    at: str
    action: str = Field(description="insert, update, delete, undo, import, split, merge")
    user: str | None
    user_id: int | None
    changed: list[str] = Field(description="attributes (and 'geometry') that changed")
    before: dict | None
    after: dict | None
    undoable: bool


class History(BaseModel):
    layer: str
    id: int
    versions: list[Version] = Field(description="newest first")


@bp.get("/<layer>/<int:id>/history")
@endpoint(response=History, permission="layers.edit", errors=(404,))
def feature_history(layer: str, id: int):
    """A feature's versions, newest first: who, when, what changed, before and after (also once deleted)"""
    found = _layer(layer)
    versions = history.feature_history(found, policy.current_scope(), id)
    return json_response({"layer": found.name, "id": id, "versions": versions})


def _undo_view(layer: Layer):
    def undo(id: int, entry: int):
        feature = history.undo(layer, policy.current_scope(), id, entry)
        if feature is None:
            return Response(status=204)
        return Response(json_response(feature).get_data(), mimetype=GEOJSON)

    undo.__doc__ = f"""{layer.title} ({layer.name}): undo one version of a feature

    The feature as it was before that version: a change written back, an insert deleted, a delete
    re-inserted under its id. Checked like any write (the layer's rules, the user's area); audited as
    ``undo``, so it shows in the history and can be undone in turn. ``If-Match`` with the feature's
    ETag refuses a stale undo (412). Answers the feature, or 204 when the undo deleted it."""
    return undo


for _layer_def in LAYERS.values():
    if _layer_def.geom_type:
        bp.add_url_rule(
            f"/{_layer_def.name}/<int:id>/history/<int:entry>/undo",
            f"{_layer_def.name.replace('-', '_')}_undo",
            methods=["POST"],
            view_func=endpoint(
                permission=_layer_def.edit_permission,
                errors=(404, 409, 412),
                tags=(_layer_def.name,),
                media_type=GEOJSON,
                versioned=versioned(_layer_def),
            )(_undo_view(_layer_def)),
        )


# --------------------------------------------------------------------------- split and merge


def _line(value, _handler):
    check_vertices(value)
    try:
        return parse_geometry(value, allowed=("LineString",))
    except GeometryError as e:
        raise invalid(str(e)) from None


class SplitIn(Body):
    """Where to cut, the new grid's name, and whether only to preview."""

    line: Annotated[gj.LineString, WrapValidator(_line), Field(description="the cut, from border to border")]
    name: Annotated[
        Text(128) | None, Field(description="the new grid's name (default: the old name and its number)")
    ] = None
    dry_run: bool = False


class MergeIn(Body):
    keep: Annotated[Id, Field(description="the grid that keeps its code and id")]
    other: Annotated[Id, Field(description="the grid joined into it and removed")]
    name: Annotated[Text(128) | None, Field(description="a new name for the merged grid")] = None
    dry_run: bool = False


class GridOut(BaseModel):
    id: int
    code: str
    name: str
    level: str
    area_m2: int
    geometry: dict


class RegridOut(BaseModel):
    """What a split or merge did (or, with ``dry_run``, would do)."""

    action: Literal["split", "merge"]
    dry_run: bool
    grids: list[GridOut] = Field(description="split: the grid that kept its code, then the new one")
    removed: dict | None = Field(None, description="merge: the grid joined in (id, code, name)")
    micro_grids: list[dict] = Field(description="micro-grids that moved, with their old and new codes")
    references_moved: int | None = None
    rows_before: dict[str, dict[str, int]] = Field(description="rows per table and grid code, before")
    rows: dict[str, dict[str, int]] = Field(description="rows per table and grid code, after")


def _grid(id: int) -> Area:
    services.writable_before(LAYERS["grids"], policy.current_scope(), id)  # 404 / 403 as a write
    return db.session.get(Area, id)


@bp.post("/grids/<int:id>/split")
@endpoint(body=SplitIn, response=RegridOut, permission="layers.edit", errors=(403, 404, 409))
def split_grid(id: int, body: SplitIn):
    """Split a grid in two along a line

    The larger part keeps the grid's code and id; the other becomes a new grid with the next free code
    of the community (DB11/T 2157), taking the micro-grids inside it (re-coded). Buildings, incidents,
    households, chargers, zones, visits and wishes inside are re-assigned in the same transaction.
    ``dry_run``: everything is done, reported and rolled back.
    """
    result = regrid.split_grid(_grid(id), body.line, body.name, dry_run=body.dry_run)
    return json_response(result)


@bp.post("/grids/merge")
@endpoint(body=MergeIn, response=RegridOut, permission="layers.edit", errors=(403, 404))
def merge_grids(body: MergeIn):
    """Merge two neighbouring grids of one community into one

    ``keep`` keeps its code and id and takes the union; ``other``'s micro-grids (re-coded), rows, grid
    workers and users move to it, then it is removed — in one transaction. ``dry_run``: reported and
    rolled back.
    """
    keep, other = _grid(body.keep), _grid(body.other)
    return json_response(regrid.merge_grids(keep, other, body.name, dry_run=body.dry_run))
