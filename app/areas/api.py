"""``/api/v1/grids/<id>/workers``: who walks a grid (织密“微网格”).

Admins, and planners or community staff whose area encloses the grid, replace the
list of grid workers in one request; the change is audited.
"""
from flask import Blueprint, jsonify

from app.web.openapi import ERROR, register_paths
from app.web.api import check_csrf as _protect, json_body
from app.areas import services
from app.auth.access import current_scope, require_login, require_role

bp = Blueprint("areas_api", __name__, url_prefix="/api/v1")
bp.before_request(_protect)

ASSIGN_ROLES = ("admin", "planner", "staff")


@bp.get("/grids/<int:grid_id>/workers")
def grid_workers(grid_id: int):
    """The grid workers of a grid the user may see."""
    require_login()
    return jsonify(services.grid_workers_of(current_scope(), grid_id))


@bp.put("/grids/<int:grid_id>/workers")
def put_grid_workers(grid_id: int):
    """Replace the grid workers: ``{"usernames": [...]}``."""
    require_role(*ASSIGN_ROLES)
    return jsonify(services.assign_grid_workers(current_scope(), grid_id, json_body()))


_WORKERS = {"type": "object", "required": ["grid", "workers"], "properties": {
    "grid": {"type": "object", "properties": {"id": {"type": "integer"}, "code": {"type": "string"},
                                              "name": {"type": "string"}}},
    "workers": {"type": "array", "items": {"type": "object", "properties": {
        "username": {"type": "string"}, "display_name": {"type": "string"}}}}}}

register_paths({
    "/api/v1/grids/{id}/workers": {
        "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
        "get": {"summary": "网格员: the grid workers of a grid", "tags": ["grids"],
                "responses": {"200": {"description": "the grid and its workers", "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/grid_workers"}}}},
                    "401": ERROR, "404": ERROR}},
        "put": {"summary": "网格员: replace the grid workers of a grid (admin; planner or staff of an "
                           "enclosing area)", "tags": ["grids"],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["usernames"], "additionalProperties": False,
                    "properties": {"usernames": {"type": "array", "maxItems": services.MAX_GRID_WORKERS,
                                                 "items": {"type": "string"}}}}}}},
                "responses": {"200": {"description": "the grid and its new workers", "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/grid_workers"}}}},
                    "400": ERROR, "401": ERROR, "403": ERROR, "404": ERROR, "415": ERROR, "422": ERROR}},
    },
}, {"grid_workers": _WORKERS})
