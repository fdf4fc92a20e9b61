"""An organisation's desk (处置台): the incidents dispatched to it with their deadlines, and one of them as its
people see it — facts, timeline, photos, requests for more time; never the reporter's contact."""

import datetime as dt

from sqlalchemy import exists, func, select

from app.areas.models import Area
from app.core.extensions import db
from app.incidents.models import ExtensionRequest, Incident, IncidentCategory
from app.incidents.services.categories import category_name, category_name_sql
from app.incidents.services.deadlines import due_at_sql, overdue_of, overdue_sql
from app.incidents.services.organisations import dispatched_to, organisation_of
from app.incidents.services.records import photos_of, timeline

VIEWS = {"open": ("dispatched", "in_progress"), "responded": ("responded",), "done": ("closed", "evaluated")}
DONE_DAYS = 30
LIMIT = 500


def _conditions(org, view: str) -> list:
    conds = [dispatched_to(org), Incident.state.in_(VIEWS[view])]
    if view == "done":
        conds.append(Incident.closed_at >= func.now() - dt.timedelta(days=DONE_DAYS))
    return conds


def desk_counts(user) -> dict[str, int]:
    """How many incidents each view of the user's desk holds."""
    org = organisation_of(user)
    if org is None:
        return {v: 0 for v in VIEWS}
    return {v: db.session.scalar(select(func.count()).select_from(Incident).where(*_conditions(org, v))) for v in VIEWS}


def desk_rows(user, view: str = "open") -> list[dict]:
    """The incidents of one view of the user's desk: overdue first, then by deadline."""
    org = organisation_of(user)
    if org is None:
        return []
    waiting = exists().where(ExtensionRequest.incident_id == Incident.id, ExtensionRequest.decided_at.is_(None))
    due = due_at_sql()
    stmt = (
        select(
            Incident.id,
            Incident.case_number,
            Incident.state,
            category_name_sql().label("category_name"),
            Incident.address,
            Incident.description,
            Incident.reported_at,
            Incident.state_changed_at,
            Incident.closed_at,
            due.label("due_at"),
            overdue_sql().label("overdue"),
            waiting.label("extension_pending"),
            Area.name.label("grid_name"),
        )
        .join(IncidentCategory, IncidentCategory.id == Incident.category_id)
        .outerjoin(Area, Area.id == Incident.grid_id)
        .where(*_conditions(org, view))
        .order_by(overdue_sql().desc(), due.asc().nulls_last(), Incident.id.desc())
        .limit(LIMIT)
    )
    return [dict(r._mapping) for r in db.session.execute(stmt)]


def desk_item(incident: Incident) -> dict:
    """One incident of the desk (no personal data)."""
    due, overdue = overdue_of(incident)
    grid = db.session.get(Area, incident.grid_id) if incident.grid_id else None
    lon, lat = db.session.execute(
        select(func.ST_X(Incident.geom), func.ST_Y(Incident.geom)).where(Incident.id == incident.id)
    ).one()
    return {
        "id": incident.id,
        "case_number": incident.case_number,
        "state": incident.state,
        "category": incident.category.code,
        "category_name": category_name(incident.category),
        "description": incident.description,
        "address": incident.address,
        "lon": lon,
        "lat": lat,
        "grid_name": grid.name if grid else None,
        "reported_at": incident.reported_at,
        "state_changed_at": incident.state_changed_at,
        "closed_at": incident.closed_at,
        "due_at": due,
        "overdue": overdue,
        "extension_hours": incident.extension_hours,
        "satisfaction": incident.satisfaction,
        "timeline": [
            {
                "from": t.from_state,
                "to": t.to_state,
                "at": t.created_at,
                "by": t.user.display_name if t.user else None,
                "note": t.note,
                "public_note": t.public_note,
                "data": t.data,
                "id": t.id,
            }
            for t in timeline(incident.id)
        ],
        "photos": [
            {"id": p.id, "transition_id": p.transition_id, "width": p.width, "height": p.height}
            for p in photos_of(incident.id)
        ],
    }
