"""``/api/v1/households``, ``/members``, ``/household-tags``, ``/visits``, ``/care-plans`` and the
map overlay of due visits. Same access rules as the pages (see :mod:`app.households.privacy`).
"""
import datetime as dt

from flask import Blueprint, current_app, jsonify, request, url_for
from flask_login import current_user

from app.web.api import geojson_response, int_arg, json_body
from app.auth.access import require_login
from app.auth.services import via_bearer
from app.core.errors import ApiError
from app.core.extensions import csrf
from app.households import services as hs
from gis.geometry import GeometryError, parse_bbox

bp = Blueprint("households_api", __name__, url_prefix="/api/v1")


def protect(blueprint: Blueprint) -> None:
    """Cookie-session writes need X-CSRFToken; bearer-token clients do not (as in app.basemap.api)."""
    @blueprint.before_request
    def _protect():
        if request.method not in ("GET", "HEAD", "OPTIONS") and not via_bearer() \
                and current_app.config.get("WTF_CSRF_ENABLED", True):
            csrf.protect()


protect(bp)


def date_arg(name: str) -> dt.date | None:
    """A YYYY-MM-DD query parameter, or 400."""
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be a date YYYY-MM-DD", {name: "malformed date"}) from None


def bbox_arg():
    """The optional bbox parameter, or 400."""
    try:
        return parse_bbox(request.args.get("bbox"))
    except GeometryError as e:
        raise ApiError(400, str(e), {"bbox": str(e)}) from None


def code_arg(name: str) -> str | None:
    raw = request.args.get(name)
    if raw is not None and (not raw.isdigit() or len(raw) > 18):
        raise ApiError(400, f"{name} must be an area code (digits)", {name: "malformed code"})
    return raw


def user():
    require_login()
    return current_user._get_current_object()


# ----------------------------------------------------------------------------- tags

@bp.get("/household-tags")
def tags():
    """The tag list (any logged-in user: tag names are not personal)."""
    require_login()
    include = request.args.get("all") == "1"
    return jsonify([{"id": t.id, "code": t.code, "name": t.name, "name_en": t.name_en,
                     "key_group": t.key_group, "active": t.active} for t in hs.list_tags(include)])


@bp.post("/household-tags")
def tag_create():
    t = hs.create_tag(user(), json_body())
    return jsonify({"id": t.id, "code": t.code, "name": t.name}), 201


@bp.patch("/household-tags/<int:tag_id>")
def tag_update(tag_id: int):
    t = hs.update_tag(user(), tag_id, json_body())
    return jsonify({"id": t.id, "code": t.code, "name": t.name, "active": t.active})


# ----------------------------------------------------------------------------- households

@bp.get("/households")
def households():
    """Files the user keeps (audited); ?tag, ?grid, ?building_id, ?q, ?limit, ?offset."""
    u = user()
    q = request.args.get("q")
    if q is not None and len(q) > 100:
        raise ApiError(400, "q is at most 100 characters", {"q": "too long"})
    rows, total = hs.list_households(u, tag=request.args.get("tag"), grid=code_arg("grid"),
                                     building_id=int_arg("building_id", 0, 0, 2**31 - 1) or None, q=q,
                                     limit=int_arg("limit", 200, 1, 1000), offset=int_arg("offset", 0, 0, 10**7))
    return jsonify({"total": total, "items": [hs.household_dict(h) for h in rows]})


@bp.post("/households")
def household_create():
    h = hs.create_household(user(), json_body())
    resp = jsonify(hs.household_dict(h))
    resp.status_code = 201
    resp.headers["Location"] = url_for("households_api.household", household_id=h.id)
    return resp


@bp.get("/households/<int:household_id>")
def household(household_id: int):
    """One file with members, visits and care plan (the read is audited)."""
    u = user()
    h = hs.get_household(u, household_id)
    visits, _ = hs.list_visits(u, household_id=h.id, limit=50)
    body = hs.household_dict(h)
    body["visits"] = [hs.visit_dict(v) for v in visits]
    return jsonify(body)


@bp.patch("/households/<int:household_id>")
def household_update(household_id: int):
    return jsonify(hs.household_dict(hs.update_household(user(), household_id, json_body())))


@bp.delete("/households/<int:household_id>")
def household_delete(household_id: int):
    hs.delete_household(user(), household_id)
    return "", 204


@bp.get("/households/stats")
def household_stats():
    """Households per grid and per tag (aggregates, suppressed below 5)."""
    return jsonify({"k": 5, "grids": hs.household_stats(user())})


@bp.post("/households/<int:household_id>/members")
def member_create(household_id: int):
    return jsonify(hs.member_dict(hs.add_member(user(), household_id, json_body()))), 201


@bp.patch("/members/<int:member_id>")
def member_update(member_id: int):
    return jsonify(hs.member_dict(hs.update_member(user(), member_id, json_body())))


@bp.delete("/members/<int:member_id>")
def member_delete(member_id: int):
    hs.delete_member(user(), member_id)
    return "", 204


# ----------------------------------------------------------------------------- visits and care plans

@bp.get("/visits")
def visits():
    rows, total = hs.list_visits(user(), household_id=int_arg("household_id", 0, 0, 2**31 - 1) or None,
                                 start=date_arg("from"), end=date_arg("to"),
                                 limit=int_arg("limit", 200, 1, 1000), offset=int_arg("offset", 0, 0, 10**7))
    return jsonify({"total": total, "items": [hs.visit_dict(v) for v in rows]})


@bp.post("/visits")
def visit_create():
    return jsonify(hs.visit_dict(hs.log_visit(user(), json_body()))), 201


@bp.get("/visits/<int:visit_id>")
def visit(visit_id: int):
    return jsonify(hs.visit_dict(hs.get_visit(user(), visit_id)))


@bp.patch("/visits/<int:visit_id>")
def visit_update(visit_id: int):
    """Notes and follow-up (``follow_up_done``) of a visit."""
    return jsonify(hs.visit_dict(hs.update_visit(user(), visit_id, json_body())))


@bp.post("/care-plans")
def care_plan_create():
    p = hs.create_care_plan(user(), json_body())
    return jsonify(plan_dict(p)), 201


@bp.patch("/care-plans/<int:plan_id>")
def care_plan_update(plan_id: int):
    return jsonify(plan_dict(hs.update_care_plan(user(), plan_id, json_body())))


def plan_dict(p) -> dict:
    return {"id": p.id, "household_id": p.household_id, "frequency_days": p.frequency_days,
            "worker_id": p.worker_id, "start_date": p.start_date.isoformat() if p.start_date else None,
            "purpose": p.purpose, "note": p.note, "active": p.active}


@bp.get("/care-plans/due")
def care_plans_due():
    """Households due for a visit: ?worker=me (default for grid workers) or a user id, ?overdue=1, ?on."""
    u = user()
    raw = request.args.get("worker", "me" if u.role == "grid_worker" else "")
    worker = u.id if raw == "me" else (int_arg("worker", 0, 1, 2**31 - 1) if raw else None)
    return jsonify(hs.due_plans(u, worker_id=worker, on=date_arg("on"),
                                horizon_days=int_arg("within_days", 0, 0, 60),
                                overdue_only=request.args.get("overdue") in ("1", "true")))


@bp.get("/care-plans/counts")
def care_plans_counts():
    """Plans, due and overdue per grid (?by=grid) or per building (?by=building); suppressed for counts-only readers."""
    by = request.args.get("by", "grid")
    if by not in ("grid", "building"):
        raise ApiError(400, "by must be grid or building", {"by": "grid or building"})
    return jsonify(hs.due_counts(user(), by=by, on=date_arg("on")))


@bp.get("/overlays/visits-due")
def overlay_visits_due():
    """GeoJSON: buildings with visits due (map overlay; ?bbox, ?limit)."""
    u = user()
    return geojson_response(hs.visits_due_geojson(u, bbox_arg(), int_arg("limit", 1000, 1, 10000)))


@bp.get("/households/export.csv")
def households_csv():
    """CSV of the files the user keeps (audited as an export)."""
    from app.households.views import households_csv_response
    return households_csv_response(user())
