"""``/api/v1/desk/incidents``: an organisation's desk as JSON (its incidents with deadlines, one of them,
a photo for a report of work done); ``/api/v1/incidents/{id}/extensions``: more time asked and decided;
``/api/v1/organisations``: departments and property companies whose people work in Wuwei.

Accepting, returning and reporting done are workflow steps: ``POST /api/v1/incidents/{id}/transitions``
(``in_progress``, ``filed`` with a ``note``, ``responded`` with ``photo_ids``).
"""

import datetime as dt

from flask_login import current_user
from pydantic import BaseModel

from app.auth import policy
from app.core.errors import ApiError
from app.core.extensions import db
from app.incidents import services
from app.incidents.api import _upload as photo_upload
from app.incidents.schemas import DeskQuery, ExtensionDecisionIn, ExtensionIn, MembersIn, OrganisationIn
from app.incidents.services.desk import desk_item, desk_rows
from app.incidents.services.organisations import DESK, members
from app.web.api import ApiBlueprint, endpoint, json_response

bp = ApiBlueprint("incident_desk_api", __name__, tag="incidents")


class DeskRow(BaseModel):
    id: int
    case_number: str
    state: str
    category_name: str
    address: str | None
    description: str
    reported_at: dt.datetime
    state_changed_at: dt.datetime
    closed_at: dt.datetime | None
    due_at: dt.datetime | None
    overdue: bool
    extension_pending: bool
    grid_name: str | None


class Desk(BaseModel):
    """The incidents of one view of your organisation's desk, overdue first, then by deadline."""

    organisation: str | None
    view: str
    incidents: list[DeskRow]


class DeskStep(BaseModel):
    id: int
    from_: str | None = None
    to: str
    at: dt.datetime
    by: str | None
    note: str | None
    public_note: str | None
    data: dict


class DeskPhoto(BaseModel):
    id: int
    transition_id: int | None
    width: int
    height: int


class DeskItem(BaseModel):
    """One incident of your desk (no personal data)."""

    id: int
    case_number: str
    state: str
    category: str
    category_name: str
    description: str
    address: str | None
    lon: float
    lat: float
    grid_name: str | None
    reported_at: dt.datetime
    state_changed_at: dt.datetime
    closed_at: dt.datetime | None
    due_at: dt.datetime | None
    overdue: bool
    extension_hours: float
    satisfaction: str | None
    timeline: list[DeskStep]
    photos: list[DeskPhoto]


def _iso(row: dict) -> dict:
    return {k: v.isoformat() if isinstance(v, dt.datetime) else v for k, v in row.items()}


@bp.get("/desk/incidents")
@endpoint(query=DeskQuery, response=Desk, permission=DESK)
def desk(query: DeskQuery):
    """Your organisation's incidents: ``open`` (to accept, in hand), ``responded`` (waiting for verification),
    ``done`` (closed in the last 30 days)."""
    org = services.organisation_of(current_user)
    return json_response(
        {
            "organisation": org.name if org else None,
            "view": query.view,
            "incidents": [_iso(r) for r in desk_rows(current_user, query.view)],
        }
    )


@bp.get("/desk/incidents/<int:incident_id>")
@endpoint(response=DeskItem, permission=DESK, errors=(404,))
def desk_incident(incident_id: int):
    """One incident dispatched to your organisation."""
    item = desk_item(services.load_for_desk(incident_id, current_user))
    item["timeline"] = [_iso(t) for t in item["timeline"]]
    return json_response(_iso(item))


class DeskPhotoStored(BaseModel):
    id: int
    width: int
    height: int


@bp.post("/desk/incidents/<int:incident_id>/photos")
@endpoint(response=DeskPhotoStored, status=201, permission=DESK, errors=(400, 404, 409, 413, 415, 422))
def desk_photo(incident_id: int):
    """Add a photo to an incident of your desk (multipart field ``photo``); send its id with the step."""
    services.load_for_desk(incident_id, current_user)
    photo = services.add_photo(incident_id, photo_upload().read(), current_user, None)
    return json_response({"id": photo.id, "width": photo.width, "height": photo.height}, 201)


class Extension(BaseModel):
    id: int
    incident_id: int
    stage: str
    hours: float
    reason: str
    requested_at: dt.datetime
    granted: bool | None
    decided_at: dt.datetime | None
    decision_note: str | None


def _extension(row) -> dict:
    return {
        "id": row.id,
        "incident_id": row.incident_id,
        "stage": row.stage,
        "hours": row.hours,
        "reason": row.reason,
        "requested_at": row.requested_at.isoformat(),
        "granted": row.granted,
        "decided_at": row.decided_at.isoformat() if row.decided_at else None,
        "decision_note": row.decision_note,
    }


@bp.post("/incidents/<int:incident_id>/extensions")
@endpoint(body=ExtensionIn, response=Extension, status=201, permission="incidents.handle", errors=(403, 404, 409))
def extension_request(incident_id: int, body: ExtensionIn):
    """Ask for more time in the current stage (the stage's holder); community staff are told."""
    row = services.request_extension(incident_id, body.hours, body.reason, current_user, policy.current_scope())
    return json_response(_extension(row), 201)


@bp.post("/incidents/<int:incident_id>/extensions/<int:request_id>/decision")
@endpoint(body=ExtensionDecisionIn, response=Extension, permission="incidents.triage", errors=(404, 409))
def extension_decision(incident_id: int, request_id: int, body: ExtensionDecisionIn):
    """Grant or refuse a request for more time; the holder is told."""
    row = services.decide_extension(
        incident_id, request_id, body.granted, body.note, current_user, policy.current_scope(), hours=body.hours
    )
    db.session.refresh(row)
    return json_response(_extension(row))


class OrganisationOut(BaseModel):
    id: int
    name: str
    kind: str
    department_id: int | None
    property_company_id: int | None
    members: list[str]


class Organisations(BaseModel):
    organisations: list[OrganisationOut]


def _organisation(org) -> dict:
    return {
        "id": org.id,
        "name": org.name,
        "kind": "department" if org.department_id else "property_company",
        "department_id": org.department_id,
        "property_company_id": org.property_company_id,
        "members": [u.username for u in members(org)],
    }


@bp.get("/organisations")
@endpoint(response=Organisations, permission="incidents.triage")
def organisation_list():
    """Departments and property companies whose people work in Wuwei, with their members."""
    return json_response({"organisations": [_organisation(o) for o in services.organisations()]})


@bp.post("/organisations")
@endpoint(
    body=OrganisationIn,
    response=OrganisationOut,
    status=201,
    permission="incidents.categories",
    also={200: OrganisationOut},
)
def organisation_create(body: OrganisationIn):
    """Let a department's or a property company's people work in Wuwei (answers the existing one with 200)."""
    existing = services.organisation_for(body.department_id, body.property_company_id)
    org = existing or services.organisation_for(body.department_id, body.property_company_id, create=True)
    db.session.commit()
    return json_response(_organisation(org), 200 if existing else 201)


@bp.put("/organisations/<int:organisation_id>/members")
@endpoint(body=MembersIn, response=OrganisationOut, permission="incidents.categories", errors=(404,))
def organisation_members(organisation_id: int, body: MembersIn):
    """Replace an organisation's members (users of role ``department``)."""
    org = next((o for o in services.organisations() if o.id == organisation_id), None)
    if org is None:
        raise ApiError(404, f"no organisation {organisation_id}")
    services.set_members(org, body.usernames)
    return json_response(_organisation(org))
