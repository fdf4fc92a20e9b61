"""One incident as the API and the detail page show it: facts, timeline, photos, offers, and the
reporter's contact for those who may read personal data (the read is audited)."""

from geoalchemy2.shape import to_shape
from shapely.geometry import mapping

from app.areas.models import Area
from app.audit.services import record
from app.auth import policy
from app.core.extensions import db
from app.incidents.models import Incident
from app.incidents.services.categories import category_name
from app.incidents.services.deadlines import overdue_of
from app.incidents.services.records import offers, photos_of, timeline

PERSONAL = "personal.read"


def can_read_personal(user, incident: Incident | None = None) -> bool:
    """Reporter contact: the roles that hold personal data (the incident is already in the user's area)."""
    return policy.can(user, PERSONAL)


def _iso(value):
    return value.isoformat() if value else None


def _photos(incident_id: int) -> list[dict]:
    base = f"/api/v1/incidents/{incident_id}/photos"
    return [
        {
            "id": p.id,
            "url": f"{base}/{p.id}",
            "thumbnail": f"{base}/{p.id}?size=thumb",
            "width": p.width,
            "height": p.height,
            "transition_id": p.transition_id,
        }
        for p in photos_of(incident_id)
    ]


def _timeline(incident_id: int) -> list[dict]:
    return [
        {
            "from": t.from_state,
            "to": t.to_state,
            "at": t.created_at.isoformat(),
            "by": t.user.display_name if t.user else None,
            "note": t.note,
            "public_note": t.public_note,
            "data": t.data,
        }
        for t in timeline(incident_id)
    ]


def _properties(incident: Incident) -> dict:
    due, overdue = overdue_of(incident)
    grid = db.session.get(Area, incident.grid_id) if incident.grid_id else None
    return {
        "state": incident.state,
        "case_number": incident.case_number,
        "category": incident.category.code,
        "category_name": category_name(incident.category),
        "source": incident.source,
        "description": incident.description,
        "address": incident.address,
        "reported_at": incident.reported_at.isoformat(),
        "state_changed_at": incident.state_changed_at.isoformat(),
        "closed_at": _iso(incident.closed_at),
        "due_at": _iso(due),
        "overdue": overdue,
        "grid_code": grid.code if grid else None,
        "grid_name": grid.name if grid else None,
        "department_id": incident.department_id,
        "assignee_id": incident.assignee_id,
        "property_company_id": incident.property_company_id,
        "duplicate_of": incident.duplicate_of_id,
        "meeting_id": incident.meeting_id,
        "rating": incident.rating,
        "satisfaction": incident.satisfaction,
        "extension_hours": incident.extension_hours,
        "attributes": incident.attributes or {},
        "extent": mapping(to_shape(incident.extent)) if incident.extent is not None else None,
        "timeline": _timeline(incident.id),
        "photos": _photos(incident.id),
        "offered_to": offers(incident.id),
    }


def incident_dict(incident: Incident, user, with_personal: bool = True) -> dict:
    """The API form of one incident (a GeoJSON Feature); reporter contact only for allowed roles."""
    out = {
        "type": "Feature",
        "id": incident.id,
        "geometry": mapping(to_shape(incident.geom)),
        "properties": _properties(incident),
    }
    if with_personal and can_read_personal(user, incident):
        out["properties"]["reporter"] = {"name": incident.reporter_name, "phone": incident.reporter_phone}
        if incident.reporter_name or incident.reporter_phone:
            record("read_personal", "incidents", incident.id, after={"fields": ["reporter_name", "reporter_phone"]})
            db.session.commit()
    return out
