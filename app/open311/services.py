"""Open311 GeoReport v2 on top of the incident services: services, requests as Open311 dicts, a POST.
Where a POST lies is :mod:`app.open311.places`' business; updates are :mod:`app.open311.updates`'.

Nothing personal leaves here: requests carry no reporter name, phone or e-mail. The answer to a POST
names the case number and the resident's status page (the client passes them on to the reporter);
``GET requests`` never shows them.
"""

import datetime as dt

from flask import url_for
from sqlalchemy import func, or_, select

from app.core.errors import ApiError
from app.core.extensions import db
from app.core.time import TZ, now
from app.incidents import services as incidents
from app.incidents.models import OPEN_STATES, Department, Incident, IncidentCategory
from app.open311.errors import Open311Error
from app.open311.models import Open311Key, Open311Media
from app.open311.places import place
from app.open311.statuses import georeport_status, state_note

DEFAULT_DAYS = 90
MAX_ROWS = 1000


def service_list() -> list[dict]:
    """Every active category as an Open311 service."""
    cats = incidents.categories()
    names = {c.id: c.name for c in cats}
    return [
        {
            "service_code": c.code,
            "service_name": c.name,
            "description": c.name_en or c.name,
            "metadata": bool(c.attributes),
            "type": "realtime",
            "keywords": "",
            "group": names.get(c.parent_id, c.name),
        }
        for c in cats
    ]


def service_definition(code: str) -> dict:
    """The attributes a client must or may send for a service."""
    cat = incidents.category_by_code(code)
    if cat is None:
        raise Open311Error(404, f"service_code {code} not found")
    attrs = []
    for i, a in enumerate(cat.attributes or [], start=1):
        attrs.append(
            {
                "variable": True,
                "code": a["code"],
                "datatype": a.get("datatype", "string"),
                "required": bool(a.get("required")),
                "datatype_description": a.get("datatype_description", ""),
                "order": a.get("order", i),
                "description": a.get("description", a["code"]),
                "values": [{"key": v["key"], "name": v["name"]} for v in a.get("values", [])],
            }
        )
    return {"service_code": cat.code, "attributes": attrs}


def w3_time(value: dt.datetime | None) -> str | None:
    return value.astimezone(TZ).isoformat(timespec="seconds") if value else None


def media_value(urls: list[str]):
    """mySociety's convention for ``media_url``: one URL (or ``""``) as a string, several as a list."""
    return list(urls) if len(urls) > 1 else (urls[0] if urls else "")


def _request_dict(row) -> dict:
    urls = row.media_urls or ([row.media_url] if row.media_url else [])
    return {
        "service_request_id": row.id,
        "status": georeport_status(row.state),
        "status_notes": state_note(row.state),
        "service_name": row.service_name,
        "service_code": row.service_code,
        "description": row.description,
        "agency_responsible": row.agency or "",
        "service_notice": "",
        "requested_datetime": w3_time(row.reported_at),
        "updated_datetime": w3_time(row.state_changed_at),
        "expected_datetime": w3_time(row.due_at),
        "address": row.address or "",
        "address_id": "",
        "zipcode": "",
        "lat": round(row.lat, 7),
        "long": round(row.lon, 7),
        "media_url": media_value(urls),
    }


def _request_select():
    return (
        select(
            Incident.id,
            Incident.state,
            Incident.description,
            Incident.address,
            Incident.reported_at,
            Incident.state_changed_at,
            Incident.media_url,
            Open311Media.urls.label("media_urls"),
            IncidentCategory.code.label("service_code"),
            IncidentCategory.name.label("service_name"),
            func.coalesce(Department.name, IncidentCategory.department).label("agency"),
            incidents.due_at_sql().label("due_at"),
            func.ST_Y(Incident.geom).label("lat"),
            func.ST_X(Incident.geom).label("lon"),
        )
        .select_from(Incident)
        .join(IncidentCategory, IncidentCategory.id == Incident.category_id)
        .outerjoin(Department, Department.id == Incident.department_id)
        .outerjoin(Open311Media, Open311Media.incident_id == Incident.id)
    )


def find_requests(
    *,
    ids: list[int] | None = None,
    service_codes: list[str] | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    statuses: list[str] | None = None,
    page: int = 1,
    page_size: int = MAX_ROWS,
) -> list[dict]:
    """GET requests: by ids (other filters ignored, as the spec says), or by filters over a default 90 days."""
    stmt = _request_select()
    if ids:
        stmt = stmt.where(Incident.id.in_(ids)).order_by(Incident.id)
    else:
        if service_codes:
            stmt = stmt.where(IncidentCategory.code.in_(service_codes))
        if start is None and end is None:
            start = now() - dt.timedelta(days=DEFAULT_DAYS)
        if start is not None:
            stmt = stmt.where(Incident.reported_at >= start)
        if end is not None:
            stmt = stmt.where(Incident.reported_at <= end)
        if statuses:
            is_open = Incident.state.in_(OPEN_STATES)
            stmt = stmt.where(or_(*[is_open if s == "open" else ~is_open for s in set(statuses)]))
        stmt = (
            stmt.order_by(Incident.reported_at.desc(), Incident.id.desc())
            .limit(page_size)
            .offset((page - 1) * page_size)
        )
    return [_request_dict(r) for r in db.session.execute(stmt)]


def get_request(request_id: str) -> dict:
    """One request by id, or 404."""
    if not request_id.isdigit() or len(request_id) > 18:
        raise Open311Error(404, f"service_request_id {request_id} not found")
    rows = find_requests(ids=[int(request_id)])
    if not rows:
        raise Open311Error(404, f"service_request_id {request_id} not found")
    return rows[0]


def request_for_token(token: str) -> dict:
    """``{service_request_id, token}`` for a token handed out by POST requests."""
    row = db.session.scalar(select(Incident.id).where(Incident.open311_token == token)) if len(token) <= 40 else None
    if row is None:
        raise Open311Error(404, f"token {token} not found")
    return {"service_request_id": row, "token": token}


def post_request(
    key: Open311Key | None,
    *,
    service_code: str,
    lat=None,
    long=None,
    address_string=None,
    description=None,
    media_url: list[str] = (),
    first_name=None,
    last_name=None,
    phone=None,
    attributes: dict | None = None,
) -> dict:
    """Create an incident from an Open311 POST (values checked by the form's model); it enters the workflow.

    Every ``media_url`` is kept (the incident's own column holds the first); a place outside the served
    areas, or an attribute its datatype does not allow, is refused and nothing is stored.
    """
    if key is None:
        raise Open311Error(403, "api_key is missing or not valid")
    cat = incidents.category_by_code(service_code)
    if cat is None:
        raise Open311Error(400, f"service_code {service_code} is not a known service")
    lon_f, lat_f = place(lat, long, address_string)
    name = " ".join(p for p in (first_name, last_name) if p) or None
    try:
        incident = incidents.report_incident(
            category_code=service_code,
            description=description or cat.name,
            lon=lon_f,
            lat=lat_f,
            address=address_string,
            source=key.source,
            reporter_name=name[:64] if name else None,
            reporter_phone=phone,
            attributes=attributes or {},
            media_url=media_url[0] if media_url else None,
            open311_key_id=key.id,
            commit=False,
        )
    except ApiError as e:
        raise Open311Error(400, e.message) from None
    if media_url:
        db.session.add(Open311Media(incident_id=incident.id, urls=list(media_url)))
    db.session.commit()
    case = incidents.case_label(incident.case_number)
    status = url_for("incident_status.page", token=incident.public_token, _external=True)
    return {
        "service_request_id": incident.id,
        "token": incident.open311_token,
        "service_notice": f"已受理，案件号 {case}，办理进度与评价：{status} / received as case {case}; "
        f"follow it and rate the result at {status}",
        "account_id": None,
    }
