"""``/api/v1/wishes``: post, claim, fulfil, withdraw; ``/api/v1/wishes/wall`` is public."""
from flask import Blueprint, jsonify, request, url_for

from app.web.api import geojson_response, int_arg, json_body
from app.core.extensions import limiter
from app.households.api import bbox_arg, code_arg, protect, user
from app.wishes import services as ws

bp = Blueprint("wishes_api", __name__, url_prefix="/api/v1")
protect(bp)


@bp.get("/wishes/wall")
@limiter.limit("60 per minute")
def wall():
    """The public wish wall: no login, no personal data."""
    status = request.args.get("status")
    return jsonify(ws.wall(code_arg("community"), status, int_arg("limit", 200, 1, 500)))


@bp.get("/wishes")
def wishes():
    return jsonify([ws.wish_dict(w) for w in ws.list_wishes(user(), request.args.get("status"),
                                                            code_arg("grid"), int_arg("limit", 500, 1, 1000))])


@bp.post("/wishes")
def wish_create():
    w = ws.post_wish(user(), json_body())
    resp = jsonify(ws.wish_dict(w))
    resp.status_code = 201
    resp.headers["Location"] = url_for("wishes_api.wish", wish_id=w.id)
    return resp


@bp.get("/wishes/<int:wish_id>")
def wish(wish_id: int):
    return jsonify(ws.wish_dict(ws.get_wish(user(), wish_id)))


@bp.post("/wishes/<int:wish_id>/claim")
def claim(wish_id: int):
    return jsonify(ws.wish_dict(ws.claim_wish(user(), wish_id, json_body())))


@bp.post("/wishes/<int:wish_id>/release")
def release(wish_id: int):
    return jsonify(ws.wish_dict(ws.release_wish(user(), wish_id)))


@bp.post("/wishes/<int:wish_id>/fulfil")
def fulfil(wish_id: int):
    """JSON ``{"note"}``, or multipart with ``note`` and a ``photo`` file."""
    u = user()
    if (request.mimetype or "").startswith("multipart/form-data"):
        return jsonify(ws.wish_dict(ws.fulfil_wish(u, wish_id, {"note": request.form.get("note")},
                                                   request.files.get("photo"))))
    return jsonify(ws.wish_dict(ws.fulfil_wish(u, wish_id, json_body())))


@bp.post("/wishes/<int:wish_id>/withdraw")
def withdraw(wish_id: int):
    return jsonify(ws.wish_dict(ws.withdraw_wish(user(), wish_id, json_body())))


@bp.get("/overlays/wishes-open")
def overlay_open_wishes():
    """GeoJSON: open wishes per grid (counts; suppressed below 5 for counts-only readers)."""
    return geojson_response(ws.open_wishes_geojson(user(), bbox_arg(), int_arg("limit", 1000, 1, 10000)))


