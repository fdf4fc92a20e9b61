"""Reporting (信息采集): a new incident checked, placed, routed to its grid's workers and department;
duplicates suggested; a further report attached to an open incident instead of a new one.

Every channel reports through :func:`report_incident`: the API, the report page, Open311 and the demo.
"""

import datetime as dt
import secrets

from geoalchemy2.shape import from_shape
from sqlalchemy import Float, cast, exists, func, select

from app.areas.models import Area, grid_workers
from app.audit.services import record
from app.auth.policy import Scope, grid_clause
from app.core.errors import ApiError
from app.core.extensions import db
from app.incidents.models import (
    OPEN_STATES,
    SOURCES,
    Incident,
    Offer,
    Transition,
)
from app.incidents.services.attributes import check_attributes
from app.incidents.services.categories import category_by_code
from app.incidents.services.records import load, public_snapshot
from app.incidents.services.tell import reported as tell_reported
from gis.geometry import GeometryError, parse_geometry

DUPLICATE_RADIUS_M = 100
DUPLICATE_DAYS = 30
MAX_DESCRIPTION = 4000
EXTENT_TYPES = ("Point", "LineString", "Polygon", "MultiLineString", "MultiPolygon")
TEXT_LIMITS = (("address", 256), ("reporter_name", 64), ("reporter_phone", 32), ("media_url", 512))


def default_source(user) -> str:
    """The channel of a report made in the app: a grid worker's or a patrol's own, else ``web``."""
    role = getattr(user, "role", None)
    return role if role in SOURCES else "web"


def suggest_duplicates(
    scope: Scope | None,
    category_id: int,
    lon: float,
    lat: float,
    radius_m: float = DUPLICATE_RADIUS_M,
    days: int = DUPLICATE_DAYS,
) -> list[dict]:
    """Open incidents of the same category within ``radius_m`` metres reported in the last ``days``."""
    here = func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326)
    dist = func.ST_Distance(func.geography(Incident.geom), func.geography(here))
    stmt = (
        select(
            Incident.id,
            Incident.state,
            Incident.description,
            Incident.address,
            Incident.reported_at,
            func.round(cast(dist, Float)).label("distance_m"),
        )
        .where(
            Incident.category_id == category_id,
            Incident.state.in_(OPEN_STATES),
            Incident.reported_at > func.now() - func.make_interval(0, 0, 0, days),
            func.ST_DWithin(func.geography(Incident.geom), func.geography(here), radius_m),
        )
        .order_by(dist)
        .limit(20)
    )
    if scope is not None:
        stmt = stmt.where(grid_clause(scope, Incident.grid_id, Incident.geom))
    return [
        {
            "id": r.id,
            "state": r.state,
            "description": r.description,
            "address": r.address,
            "reported_at": r.reported_at.isoformat(),
            "distance_m": float(r.distance_m),
        }
        for r in db.session.execute(stmt)
    ]


def _route(incident: Incident) -> int:
    """Offer a new incident to its grid's workers and its category's department (自动派发建议)."""
    offers = 0
    if incident.grid_id is not None:
        for (user_id,) in db.session.execute(
            select(grid_workers.c.user_id).where(grid_workers.c.area_id == incident.grid_id)
        ):
            db.session.add(Offer(incident_id=incident.id, user_id=user_id))
            offers += 1
    if incident.category.department_id is not None:
        db.session.add(Offer(incident_id=incident.id, department_id=incident.category.department_id))
        offers += 1
    return offers


def in_served_area(lon: float, lat: float) -> bool:
    """Whether a point lies in some area of the hierarchy: an incident there has staff who can open it
    (a point in no area gets no grid and is in nobody's scope but the admin's)."""
    here = func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326)
    return bool(db.session.scalar(select(exists().where(func.ST_Intersects(Area.geom, here)))))


def _in_scope_point(scope: Scope, geom) -> bool:
    if scope.everything:
        return True
    return bool(
        db.session.scalar(
            select(func.ST_Intersects(Area.geom, func.ST_GeomFromText(geom.wkt, 4326))).where(Area.id == scope.area_id)
        )
    )


def _place(lon, lat, geometry, errors: dict):
    """(point, extent or None) from lon/lat or a GeoJSON geometry; problems go to ``errors``."""
    try:
        if geometry is not None:
            shape = parse_geometry(geometry, allowed=EXTENT_TYPES, promote_multi=False)
            return (shape, None) if shape.geom_type == "Point" else (shape.representative_point(), shape)
        if lon is None or lat is None:
            errors["location"] = "required: lon and lat (or a GeoJSON geometry)"
            return None, None
        return parse_geometry({"type": "Point", "coordinates": [lon, lat]}, allowed=("Point",)), None
    except GeometryError as e:
        errors["geometry" if geometry is not None else "location"] = str(e)
    except TypeError as e:
        errors["location"] = str(e)
    return None, None


def _check_report(category_code, description, source: str, texts: dict, attributes) -> tuple:
    """The category, the attributes as stored and the errors of a report's fields (the place is
    checked by :func:`_place`)."""
    errors, values = {}, {}
    category = category_by_code(category_code) if isinstance(category_code, str) else None
    if category is None:
        errors["category"] = "unknown category code" if category_code else "required"
    if not isinstance(description, str) or not description.strip():
        errors["description"] = "required"
    elif len(description) > MAX_DESCRIPTION:
        errors["description"] = f"at most {MAX_DESCRIPTION} characters"
    if source not in SOURCES:
        errors["source"] = f"must be one of: {', '.join(SOURCES)}"
    for name, limit in TEXT_LIMITS:
        value = texts.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            errors[name] = f"a string of at most {limit} characters"
    if attributes is not None and not isinstance(attributes, dict):
        errors["attributes"] = "must be an object"
    if category is not None and isinstance(attributes, dict):
        values, attribute_errors = check_attributes(category, attributes)
        errors.update(attribute_errors)
    return category, values, errors


def report_incident(
    *,
    category_code: str | None,
    description,
    lon=None,
    lat=None,
    geometry=None,
    address=None,
    source: str = "web",
    reporter_name=None,
    reporter_phone=None,
    attributes: dict | None = None,
    user=None,
    scope: Scope | None = None,
    media_url: str | None = None,
    open311_key_id: int | None = None,
    reported_at: dt.datetime | None = None,
    commit: bool = True,
) -> Incident:
    """Record a new incident in state ``reported``, routed to the grid's workers and the department."""
    texts = {
        "address": address,
        "reporter_name": reporter_name,
        "reporter_phone": reporter_phone,
        "media_url": media_url,
    }
    category, attributes, errors = _check_report(category_code, description, source, texts, attributes)
    geom, extent = _place(lon, lat, geometry, errors)
    if errors:
        raise ApiError(
            422, "the incident cannot be recorded: " + "; ".join(f"{k}: {v}" for k, v in errors.items()), errors
        )
    if scope is not None and not _in_scope_point(scope, geom):
        raise ApiError(403, "the place lies outside your area", {"location": "outside your area"})
    user_id = getattr(user, "id", None)
    incident = Incident(
        category_id=category.id,
        source=source,
        state="reported",
        description=description.strip(),
        address=address,
        reporter_name=reporter_name or None,
        reporter_phone=reporter_phone or None,
        reported_by=user_id,
        geom=from_shape(geom, 4326),
        extent=from_shape(extent, 4326) if extent is not None else None,
        attributes=attributes or {},
        media_url=media_url,
        open311_key_id=open311_key_id,
        department_id=category.department_id,
    )
    if reported_at is not None:
        incident.reported_at = incident.state_changed_at = reported_at
    if open311_key_id is not None:
        incident.open311_token = secrets.token_hex(16)
    _store_new(incident, user, source, reported_at)
    if commit:
        db.session.commit()
    return incident


def _store_new(incident: Incident, user, source: str, reported_at: dt.datetime | None) -> None:
    """Insert a new incident with its first transition, route it, audit it and tell who must hear."""
    user_id = getattr(user, "id", None)
    db.session.add(incident)
    db.session.flush()
    db.session.refresh(incident, ["grid_id", "public_token"])
    db.session.add(
        Transition(
            incident_id=incident.id,
            from_state=None,
            to_state="reported",
            user_id=user_id,
            note=None,
            data={"source": source},
            **({"created_at": reported_at} if reported_at else {}),
        )
    )
    _route(incident)
    record("insert", "incidents", incident.id, after=public_snapshot(incident), user_id=user_id)
    if reported_at is None:  # a report made now, not a replay of the past
        tell_reported(incident, user)


def attach_report(incident_id: int, note: str, user, scope: Scope) -> Incident:
    """Attach a new report to an existing open incident instead of opening a duplicate."""
    incident = load(incident_id, scope, lock=True)
    if incident.state not in OPEN_STATES:
        raise ApiError(409, "reports can only be attached to open incidents")
    if not isinstance(note, str) or not note.strip() or len(note) > MAX_DESCRIPTION:
        raise ApiError(422, "note: required, at most 4000 characters", {"note": "required"})
    db.session.add(
        Transition(
            incident_id=incident.id,
            from_state=incident.state,
            to_state=incident.state,
            user_id=user.id,
            note=note.strip(),
            data={"attached_report": True},
        )
    )
    record("attach_report", "incidents", incident.id, after={"note": note.strip()})
    db.session.commit()
    return incident
