"""``/api/v1/councils``, ``/api/v1/meetings``, ``/api/v1/decisions``, ``/api/v1/consultation-ledger``."""
import datetime as dt

from flask import Blueprint, current_app, request
from flask_login import current_user

from app.web.api import json_body
from app.auth.access import current_scope, require_login, require_role
from app.auth.services import via_bearer
from app.consultations import services
from app.consultations.models import Council, Decision, Meeting
from app.core.errors import ApiError
from app.core.extensions import csrf

bp = Blueprint("consultations_api", __name__, url_prefix="/api/v1")


@bp.before_request
def _protect():
    """Session-cookie writes need the CSRF token; bearer-token clients do not."""
    if request.method not in ("GET", "HEAD", "OPTIONS") and not via_bearer() \
            and current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()


def _personal() -> bool:
    return current_user.role in ("admin", "staff")


def council_json(c: Council, members: bool = True) -> dict:
    """A council, with members (phones only for community staff and admins)."""
    out = {"id": c.id, "name": c.name, "community": {"code": c.community.code, "name": c.community.name},
           "description": c.description}
    if members:
        out["members"] = [{"id": m.id, "name": m.name, "role": m.role, "organisation": m.organisation,
                           **({"phone": m.phone} if _personal() else {})} for m in c.members]
    return out


def decision_json(d: Decision) -> dict:
    return {"id": d.id, "meeting_id": d.meeting_id, "incident_id": d.incident_id, "text": d.text, "owner": d.owner,
            "due_on": d.due_on.isoformat() if d.due_on else None, "status": d.status,
            "done_at": d.done_at.isoformat() if d.done_at else None, "done_note": d.done_note}


def meeting_json(m: Meeting) -> dict:
    return {"id": m.id, "council_id": m.council_id, "held_at": m.held_at.isoformat(), "place": m.place,
            "topic": m.topic, "minutes": m.minutes,
            "participants": [{"id": p.id, "name": p.name, "role": p.role, "organisation": p.organisation}
                             for p in m.participants],
            "incident_ids": [i.id for i in m.incidents], "decisions": [decision_json(d) for d in m.decisions]}


def _obj() -> dict:
    body = json_body()
    if not isinstance(body, dict):
        raise ApiError(422, "send a JSON object", {"body": "not an object"})
    return body


@bp.get("/councils")
def councils():
    """Councils of the communities in your area."""
    require_role(*services.READ_ROLES)
    return {"councils": [council_json(c) for c in services.councils(current_scope())]}


@bp.post("/councils")
def create_council():
    """``{name, community (12-digit code), description, members: [{name, role, organisation, phone}]}``."""
    require_role(*services.WRITE_ROLES)
    b = _obj()
    if b.get("members") is not None and not isinstance(b["members"], list):
        raise ApiError(422, "members must be a list", {"members": "not a list"})
    c = services.create_council(current_scope(), b.get("name"), b.get("community"), b.get("description"),
                                b.get("members"))
    return council_json(c), 201


@bp.get("/councils/<int:council_id>")
def council(council_id: int):
    require_role(*services.READ_ROLES)
    c = services.get_council(council_id, current_scope())
    return {**council_json(c), "meetings": [meeting_json(m) for m in
                                            sorted(_meetings(c), key=lambda m: m.held_at)]}


def _meetings(c: Council):
    from sqlalchemy import select
    from app.core.extensions import db
    return db.session.scalars(select(Meeting).where(Meeting.council_id == c.id))


@bp.post("/councils/<int:council_id>/members")
def add_member(council_id: int):
    require_role(*services.WRITE_ROLES)
    m = services.add_member(council_id, current_scope(), _obj())
    return {"id": m.id, "name": m.name, "role": m.role, "organisation": m.organisation}, 201


@bp.post("/councils/<int:council_id>/meetings")
def hold_meeting(council_id: int):
    """``{held_at, topic, place, minutes, participant_ids, incident_ids, decisions: [{text, owner, due_on,
    incident_id}]}``; agenda incidents go to state ``consultation``."""
    require_role(*services.WRITE_ROLES)
    b = _obj()
    for name in ("participant_ids", "incident_ids"):
        if b.get(name) is not None and (not isinstance(b[name], list)
                                        or not all(isinstance(i, int) and not isinstance(i, bool) for i in b[name])):
            raise ApiError(422, f"{name} must be a list of ids", {name: "not a list of ids"})
    m = services.hold_meeting(council_id, current_scope(), current_user, held_at=b.get("held_at"),
                              topic=b.get("topic"), place=b.get("place"), minutes=b.get("minutes"),
                              participant_ids=b.get("participant_ids"), incident_ids=b.get("incident_ids"),
                              decisions=b.get("decisions"))
    return meeting_json(m), 201


@bp.get("/meetings/<int:meeting_id>")
def meeting(meeting_id: int):
    require_role(*services.READ_ROLES)
    return meeting_json(services.get_meeting(meeting_id, current_scope()))


@bp.post("/meetings/<int:meeting_id>/decisions")
def add_decision(meeting_id: int):
    require_role(*services.WRITE_ROLES)
    return decision_json(services.add_decision(meeting_id, current_scope(), _obj())), 201


@bp.patch("/decisions/<int:decision_id>")
def update_decision(decision_id: int):
    """``{status: open|done|dropped, note}``."""
    require_role(*services.WRITE_ROLES)
    b = _obj()
    return decision_json(services.update_decision(decision_id, current_scope(), b.get("status"), b.get("note")))


def ledger_args() -> dict:
    """``community``, ``from``, ``to`` from the query string; 400 when malformed."""
    out = {}
    code = request.args.get("community")
    if code:
        if not code.isdigit() or len(code) > 12:
            raise ApiError(400, "community must be an area code (digits)", {"community": "malformed"})
        out["community_code"] = code
    for name, key in (("from", "date_from"), ("to", "date_to")):
        raw = request.args.get(name)
        if raw:
            try:
                out[key] = dt.date.fromisoformat(raw)
            except ValueError:
                raise ApiError(400, f"{name} must be a date YYYY-MM-DD", {name: "not a date"}) from None
    return out


@bp.get("/consultation-ledger")
def ledger():
    """The ledger as JSON (``/consultations/ledger.csv`` for the spreadsheet)."""
    require_role(*services.READ_ROLES)
    rows = services.ledger(current_scope(), **ledger_args())
    for r in rows:
        for k in ("held_at", "due_on", "done_at"):
            r[k] = r[k].isoformat() if r[k] else None
    return {"rows": rows}


ERROR = {"$ref": "#/components/responses/Error"}
OPENAPI_PATHS = {
    "/api/v1/councils": {
        "get": {"summary": "councils (议事会) in your area", "tags": ["consultations"],
                "responses": {"200": {"description": "councils"}, "401": ERROR, "403": ERROR}},
        "post": {"summary": "create a council with members", "tags": ["consultations"],
                 "responses": {"201": {"description": "created"}, "401": ERROR, "403": ERROR, "415": ERROR,
                               "422": ERROR}}},
    "/api/v1/councils/{id}": {"get": {"summary": "a council with its meetings", "tags": ["consultations"],
                                      "responses": {"200": {"description": "council"}, "404": ERROR}}},
    "/api/v1/councils/{id}/members": {"post": {"summary": "add a member", "tags": ["consultations"],
                                               "responses": {"201": {"description": "added"}, "422": ERROR}}},
    "/api/v1/councils/{id}/meetings": {"post": {
        "summary": "record a meeting (participants, agenda incidents, minutes, decisions)", "tags": ["consultations"],
        "responses": {"201": {"description": "recorded"}, "403": ERROR, "404": ERROR, "422": ERROR}}},
    "/api/v1/meetings/{id}": {"get": {"summary": "a meeting", "tags": ["consultations"],
                                      "responses": {"200": {"description": "meeting"}, "404": ERROR}}},
    "/api/v1/meetings/{id}/decisions": {"post": {"summary": "add a decision", "tags": ["consultations"],
                                                 "responses": {"201": {"description": "added"}, "422": ERROR}}},
    "/api/v1/decisions/{id}": {"patch": {"summary": "follow a decision (open/done/dropped)",
                                         "tags": ["consultations"],
                                         "responses": {"200": {"description": "updated"}, "404": ERROR,
                                                       "422": ERROR}}},
    "/api/v1/consultation-ledger": {"get": {
        "summary": "the consultation ledger (协商台账) per community and period", "tags": ["consultations"],
        "parameters": [{"name": n, "in": "query", "schema": {"type": "string"}} for n in ("community", "from", "to")],
        "responses": {"200": {"description": "rows"}, "400": ERROR, "401": ERROR}}},
}
