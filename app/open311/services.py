"""Open311 GeoReport v2 on top of the incident services: keys, services, requests as Open311 dicts.

Nothing personal leaves here: requests carry no reporter name, phone or e-mail.
"""
import datetime as dt
import hashlib
import secrets

from sqlalchemy import Float, func, select, text

from app.audit.services import record
from app.core.errors import ApiError
from app.core.extensions import db
from app.incidents import services as incidents
from app.incidents.models import Department, Incident, IncidentCategory, OPEN_STATES
from app.open311.models import Open311Key

DEFAULT_DAYS = 90
MAX_ROWS = 1000
TZ = dt.timezone(dt.timedelta(hours=8))
STATE_NOTES = {"reported": "reported (信息采集)", "filed": "filed (立案)", "dispatched": "dispatched (派遣)",
               "in_progress": "in progress (处置)", "responded": "responded (反馈)", "closed": "closed (核查结案)",
               "evaluated": "evaluated (综合评价)", "rejected": "rejected (不予立案)",
               "duplicate": "duplicate (重复)", "consultation": "in consultation (议事)"}


class Open311Error(ApiError):
    """An error answered as an Open311 error array."""


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(name: str, key: str | None = None, source: str = "open311") -> tuple[Open311Key, str]:
    """Issue an API key (only its hash is kept); returns the row and the key to hand out once."""
    key = key or secrets.token_urlsafe(24)
    row = Open311Key(name=name, key_hash=_hash(key), prefix=key[:8], source=source)
    db.session.add(row)
    db.session.flush()
    record("insert", "open311_keys", row.id, after={"name": name, "prefix": row.prefix, "source": source})
    db.session.commit()
    return row, key


def revoke_key(prefix: str) -> int:
    """Revoke keys starting with ``prefix``; returns how many."""
    rows = list(db.session.scalars(select(Open311Key).where(Open311Key.prefix == prefix[:8],
                                                            Open311Key.revoked.is_(False))))
    for row in rows:
        row.revoked = True
        record("update", "open311_keys", row.id, after={"revoked": True})
    db.session.commit()
    return len(rows)


def list_keys() -> list[Open311Key]:
    """Every key, newest first."""
    return list(db.session.scalars(select(Open311Key).order_by(Open311Key.id.desc())))


def revoke_key_id(key_id: int) -> None:
    """Revoke one key by id (404 when unknown)."""
    row = db.session.get(Open311Key, key_id)
    if row is None:
        raise ApiError(404, f"no Open311 key {key_id}")
    row.revoked = True
    record("update", "open311_keys", row.id, after={"revoked": True})
    db.session.commit()


def key_for(raw: str | None) -> Open311Key | None:
    """The active key matching ``raw``."""
    if not raw or len(raw) > 200:
        return None
    return db.session.scalar(select(Open311Key).where(Open311Key.key_hash == _hash(raw),
                                                      Open311Key.revoked.is_(False)))


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


def _request_dict(row) -> dict:
    return {
        "service_request_id": row.id,
        "status": "open" if row.state in OPEN_STATES else "closed",
        "status_notes": STATE_NOTES.get(row.state, row.state),
        "service_name": row.service_name, "service_code": row.service_code,
        "description": row.description, "agency_responsible": row.agency or "",
        "service_notice": "", "requested_datetime": row.reported_at.astimezone(TZ).isoformat(timespec="seconds"),
        "updated_datetime": row.state_changed_at.astimezone(TZ).isoformat(timespec="seconds"),
        "expected_datetime": row.due_at.astimezone(TZ).isoformat(timespec="seconds") if row.due_at else None,
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


def parse_datetime(name: str, raw: str) -> dt.datetime:
    """A W3C/ISO 8601 date-time (a zone is assumed +08:00 when missing), or 400."""
    try:
        value = dt.datetime.fromisoformat(raw.strip().replace("Z", "+00:00").replace(" ", "+", 1)
                                          if "T" in raw and raw.count(" ") == 1 else raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise Open311Error(400, f"{name} must be an ISO 8601 date-time, e.g. 2026-04-12T09:00:00+08:00") from None
    return value if value.tzinfo else value.replace(tzinfo=TZ)


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
            start = dt.datetime.now(TZ) - dt.timedelta(days=DEFAULT_DAYS)
        if start is not None:
            stmt = stmt.where(Incident.reported_at >= start)
        if end is not None:
            stmt = stmt.where(Incident.reported_at <= end)
        if statuses:
            conds = []
            if "open" in statuses:
                conds.append(Incident.state.in_(OPEN_STATES))
            if "closed" in statuses:
                conds.append(~Incident.state.in_(OPEN_STATES))
            from sqlalchemy import or_
            stmt = stmt.where(or_(*conds))
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
    """A point for ``address_string`` from the base map's buildings and compounds (no external geocoder)."""
    pattern = "%" + address.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    row = db.session.execute(text(
        "SELECT ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM ("
        " SELECT geom, 1 AS rank FROM buildings WHERE name ILIKE :p OR address ILIKE :p"
        " UNION ALL SELECT geom, 2 FROM compounds WHERE name ILIKE :p OR address ILIKE :p) t"
        " ORDER BY rank LIMIT 1"), {"p": pattern}).first()
    return (row[0], row[1]) if row else None


def post_request(form, key: Open311Key | None) -> dict:
    """Create an incident from a form-encoded Open311 POST; it enters the normal workflow."""
    if key is None:
        raise Open311Error(403, "api_key is missing or not valid")
    code = (form.get("service_code") or "").strip()
    if not code:
        raise Open311Error(400, "service_code is required")
    cat = incidents.category_by_code(code)
    if cat is None:
        raise Open311Error(400, f"service_code {code} is not a known service")
    description = form.get("description") or ""
    if len(description) > 4000:
        raise Open311Error(400, "description must be at most 4000 characters")
    lat, lon = form.get("lat"), form.get("long")
    address = (form.get("address_string") or "").strip() or None
    if address and len(address) > 256:
        raise Open311Error(400, "address_string must be at most 256 characters")
    if lat not in (None, "") or lon not in (None, ""):
        try:
            lat_f, lon_f = float(lat), float(lon)
        except (TypeError, ValueError):
            raise Open311Error(400, "lat and long must both be decimal degrees") from None
        if not (-90 <= lat_f <= 90) or lat_f != lat_f:
            raise Open311Error(400, "lat must be between -90 and 90")
        if not (-180 <= lon_f <= 180) or lon_f != lon_f:
            raise Open311Error(400, "long must be between -180 and 180")
    elif address:
        found = locate_address(address)
        if found is None:
            raise Open311Error(400, "address_string could not be located; send lat and long")
        lon_f, lat_f = found
    else:
        raise Open311Error(400, "a location is required: lat and long, or address_string")
    attributes = {}
    for k in form.keys():
        if k.startswith("attribute[") and k.endswith("]"):
            attributes[k[10:-1]] = form.get(k)
    name = " ".join(p for p in (form.get("first_name"), form.get("last_name")) if p) or None
    media_url = form.get("media_url") or None
    if media_url and not media_url.startswith(("http://", "https://")):
        raise Open311Error(400, "media_url must be an http(s) URL")
    try:
        incident = incidents.report_incident(
            category_code=code, description=description or cat.name, lon=lon_f, lat=lat_f, address=address,
            source=key.source, reporter_name=name[:64] if name else None,
            reporter_phone=(form.get("phone") or None), attributes=attributes, media_url=media_url,
            open311_key_id=key.id)
    except ApiError as e:
        raise Open311Error(400, e.message) from None
    return {"service_request_id": incident.id, "token": incident.open311_token,
            "service_notice": "已受理，将按数字城管流程处置 / received; it follows the city's workflow",
            "account_id": None}
