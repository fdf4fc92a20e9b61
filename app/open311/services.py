"""Open311 GeoReport v2 on top of the incident services: services, requests as Open311 dicts, a POST.

Nothing personal leaves here: requests carry no reporter name, phone or e-mail.
"""
import datetime as dt

from sqlalchemy import func, literal, or_, select, union_all

from app.basemap.models import Building, Compound
from app.core.errors import ApiError
from app.core.extensions import db
from app.core.sql import like_escape
from app.core.time import TZ, now
from app.incidents import services as incidents
from app.incidents.models import OPEN_STATES, Department, Incident, IncidentCategory
from app.open311.models import Open311Key

DEFAULT_DAYS = 90
MAX_ROWS = 1000
STATE_NOTES = {"reported": "reported (信息采集)", "filed": "filed (立案)", "dispatched": "dispatched (派遣)",
               "in_progress": "in progress (处置)", "responded": "responded (反馈)", "closed": "closed (核查结案)",
               "evaluated": "evaluated (综合评价)", "rejected": "rejected (不予立案)",
               "duplicate": "duplicate (重复)", "consultation": "in consultation (议事)"}


class Open311Error(ApiError):
    """An error answered as an Open311 error array."""


def service_list() -> list[dict]:
    """Every active category as an Open311 service."""
    cats = incidents.categories()
    names = {c.id: c.name for c in cats}
    return [{"service_code": c.code, "service_name": c.name, "description": c.name_en or c.name,
             "metadata": bool(c.attributes), "type": "realtime", "keywords": "",
             "group": names.get(c.parent_id, c.name)} for c in cats]


def service_definition(code: str) -> dict:
    """The attributes a client must or may send for a service."""
    cat = incidents.category_by_code(code)
    if cat is None:
        raise Open311Error(404, f"service_code {code} not found")
    attrs = []
    for i, a in enumerate(cat.attributes or [], start=1):
        attrs.append({"variable": True, "code": a["code"], "datatype": a.get("datatype", "string"),
                      "required": bool(a.get("required")), "datatype_description": a.get("datatype_description", ""),
                      "order": a.get("order", i), "description": a.get("description", a["code"]),
                      "values": [{"key": v["key"], "name": v["name"]} for v in a.get("values", [])]})
    return {"service_code": cat.code, "attributes": attrs}


def _local(value: dt.datetime | None) -> str | None:
    return value.astimezone(TZ).isoformat(timespec="seconds") if value else None


def _request_dict(row) -> dict:
    return {
        "service_request_id": row.id,
        "status": "open" if row.state in OPEN_STATES else "closed",
        "status_notes": STATE_NOTES.get(row.state, row.state),
        "service_name": row.service_name, "service_code": row.service_code,
        "description": row.description, "agency_responsible": row.agency or "",
        "service_notice": "", "requested_datetime": _local(row.reported_at),
        "updated_datetime": _local(row.state_changed_at), "expected_datetime": _local(row.due_at),
        "address": row.address or "", "address_id": "", "zipcode": "",
        "lat": round(row.lat, 7), "long": round(row.lon, 7), "media_url": row.media_url or "",
    }


def _request_select():
    return (select(Incident.id, Incident.state, Incident.description, Incident.address, Incident.reported_at,
                   Incident.state_changed_at, Incident.media_url,
                   IncidentCategory.code.label("service_code"), IncidentCategory.name.label("service_name"),
                   func.coalesce(Department.name, IncidentCategory.department).label("agency"),
                   incidents.due_at_sql().label("due_at"),
                   func.ST_Y(Incident.geom).label("lat"), func.ST_X(Incident.geom).label("lon"))
            .select_from(Incident).join(IncidentCategory, IncidentCategory.id == Incident.category_id)
            .outerjoin(Department, Department.id == Incident.department_id))


def find_requests(*, ids: list[int] | None = None, service_codes: list[str] | None = None,
                  start: dt.datetime | None = None, end: dt.datetime | None = None,
                  statuses: list[str] | None = None, page: int = 1, page_size: int = MAX_ROWS) -> list[dict]:
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
        stmt = stmt.order_by(Incident.reported_at.desc(), Incident.id.desc()) \
            .limit(page_size).offset((page - 1) * page_size)
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


def locate_address(address: str) -> tuple[float, float] | None:
    """A point for ``address_string`` from the base map's buildings, then compounds (no external geocoder)."""
    pattern = "%" + like_escape(address.strip()) + "%"
    places = union_all(*(select(t.geom, literal(rank).label("rank"))
                         .where(or_(t.name.ilike(pattern, escape="\\"), t.address.ilike(pattern, escape="\\")))
                         for rank, t in ((1, Building), (2, Compound)))).subquery()
    spot = func.ST_PointOnSurface(places.c.geom)
    row = db.session.execute(select(func.ST_X(spot), func.ST_Y(spot)).order_by(places.c.rank).limit(1)).first()
    return (row[0], row[1]) if row else None


def _place(lat: float | None, lon: float | None, address: str | None) -> tuple[float, float]:
    """(lon, lat) from the form: both coordinates, or an address found on the base map."""
    if lat is not None or lon is not None:
        if lat is None or lon is None:
            raise Open311Error(400, "lat and long must both be decimal degrees")
        return lon, lat
    if address:
        found = locate_address(address)
        if found is None:
            raise Open311Error(400, "address_string could not be located; send lat and long")
        return found
    raise Open311Error(400, "a location is required: lat and long, or address_string")


def post_request(key: Open311Key | None, *, service_code: str, lat=None, long=None, address_string=None,
                 description=None, media_url=None, first_name=None, last_name=None, phone=None,
                 attributes: dict | None = None) -> dict:
    """Create an incident from an Open311 POST (values checked by the form's model); it enters the workflow."""
    if key is None:
        raise Open311Error(403, "api_key is missing or not valid")
    cat = incidents.category_by_code(service_code)
    if cat is None:
        raise Open311Error(400, f"service_code {service_code} is not a known service")
    lon_f, lat_f = _place(lat, long, address_string)
    name = " ".join(p for p in (first_name, last_name) if p) or None
    try:
        incident = incidents.report_incident(
            category_code=service_code, description=description or cat.name, lon=lon_f, lat=lat_f,
            address=address_string, source=key.source, reporter_name=name[:64] if name else None,
            reporter_phone=phone, attributes=attributes or {}, media_url=media_url, open311_key_id=key.id)
    except ApiError as e:
        raise Open311Error(400, e.message) from None
    return {"service_request_id": incident.id, "token": incident.open311_token,
            "service_notice": "已受理，将按数字城管流程处置 / received; it follows the city's workflow",
            "account_id": None}
