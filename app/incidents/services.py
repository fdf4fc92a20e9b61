"""Incident rules: reporting with routing and duplicate suggestion, the workflow, lists and detail.

Views and the Open311 blueprint call these functions; each write is one
transaction here, recorded in the audit log. Lists are built by PostgreSQL
(``json_build_object``) so that a page of a million-row table stays cheap.
"""
import datetime as dt
import json
import secrets

from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import (JSON, Float, and_, case, cast, func, insert, literal, literal_column, or_, select, text,
                        true)
from sqlalchemy.orm import aliased

from app.core.sql import like_escape
from app.areas.models import Area, grid_workers
from app.audit.services import record, snapshot
from app.auth.access import Scope, grid_clause
from app.core.errors import ApiError
from app.core.extensions import db
from app.incidents.models import (OPEN_STATES, SOURCES, STATES, Department, Incident, IncidentCategory, Offer,
                                  Photo, Transition)
from app.incidents.workflow import (CLOSED_STATES, DEFAULT_DEADLINES, TIMED_STAGES, TRANSITIONS, allowed_roles)
from gis.geometry import GeometryError, parse_geometry

PERSONAL_ROLES = ("admin", "staff", "grid_worker")
DUPLICATE_RADIUS_M = 100
DUPLICATE_DAYS = 30
MAX_DESCRIPTION = 4000
MAX_LIMIT = 10000
COUNT_CAP = 1000
SORTS = {"reported_at": Incident.reported_at, "id": Incident.id, "state": Incident.state,
         "state_changed_at": Incident.state_changed_at}


# --- deadlines and overdue, in SQL -------------------------------------------------------------

def stage_hours_sql(inc=Incident, cat=IncidentCategory):
    """Hours allowed in the incident's current stage: the category's figure, else the default."""
    default = case({s: literal(float(h)) for s, h in DEFAULT_DEADLINES.items()}, value=inc.state,
                   else_=literal(None, Float))
    return func.coalesce(cast(cat.deadlines[inc.state].astext, Float), default)


def due_at_sql(inc=Incident, cat=IncidentCategory):
    """When the current stage is due (NULL for final states)."""
    return case((inc.state.in_(TIMED_STAGES),
                 inc.state_changed_at + func.make_interval(0, 0, 0, 0, 0, 0, stage_hours_sql(inc, cat) * 3600)),
                else_=None)


def overdue_sql(inc=Incident, cat=IncidentCategory):
    """True when an open incident has stayed in its stage longer than the category allows."""
    return and_(inc.state.in_(TIMED_STAGES),
                inc.state_changed_at + func.make_interval(0, 0, 0, 0, 0, 0, stage_hours_sql(inc, cat) * 3600)
                < func.now())


# --- categories and departments -----------------------------------------------------------------

def categories(active_only: bool = True) -> list[IncidentCategory]:
    """The category tree, parents before children."""
    stmt = select(IncidentCategory).order_by(IncidentCategory.code)
    if active_only:
        stmt = stmt.where(IncidentCategory.active.is_(True))
    return list(db.session.scalars(stmt))


def category_by_code(code: str) -> IncidentCategory | None:
    """An active category by its code."""
    return db.session.scalar(select(IncidentCategory).where(IncidentCategory.code == code,
                                                            IncidentCategory.active.is_(True)))


def departments() -> list[Department]:
    """Every department, by name."""
    return list(db.session.scalars(select(Department).order_by(Department.code)))


# --- reporting ----------------------------------------------------------------------------------

def _point(lon, lat):
    try:
        geom = parse_geometry({"type": "Point", "coordinates": [lon, lat]}, allowed=("Point",))
    except (GeometryError, TypeError) as e:
        raise ApiError(422, f"location: {e}", {"location": str(e)}) from None
    return geom


def _in_scope_point(scope: Scope, geom) -> bool:
    if scope.everything:
        return True
    return bool(db.session.scalar(
        select(func.ST_Intersects(Area.geom, func.ST_GeomFromText(geom.wkt, 4326))).where(Area.id == scope.area_id)))


def suggest_duplicates(scope: Scope | None, category_id: int, lon: float, lat: float,
                       radius_m: float = DUPLICATE_RADIUS_M, days: int = DUPLICATE_DAYS) -> list[dict]:
    """Open incidents of the same category within ``radius_m`` metres reported in the last ``days``."""
    here = func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326)
    dist = func.ST_Distance(func.geography(Incident.geom), func.geography(here))
    stmt = (select(Incident.id, Incident.state, Incident.description, Incident.address, Incident.reported_at,
                   func.round(cast(dist, Float)).label("distance_m"))
            .where(Incident.category_id == category_id, Incident.state.in_(OPEN_STATES),
                   Incident.reported_at > func.now() - func.make_interval(0, 0, 0, days),
                   func.ST_DWithin(func.geography(Incident.geom), func.geography(here), radius_m))
            .order_by(dist).limit(20))
    if scope is not None:
        stmt = stmt.where(grid_clause(scope, Incident.grid_id, Incident.geom))
    return [dict(id=r.id, state=r.state, description=r.description, address=r.address,
                 reported_at=r.reported_at.isoformat(), distance_m=float(r.distance_m)) for r in db.session.execute(stmt)]


def _route(incident: Incident) -> int:
    """Offer a new incident to its grid's workers and its category's department (自动派发建议)."""
    offers = 0
    if incident.grid_id is not None:
        for (user_id,) in db.session.execute(select(grid_workers.c.user_id)
                                             .where(grid_workers.c.area_id == incident.grid_id)):
            db.session.add(Offer(incident_id=incident.id, user_id=user_id))
            offers += 1
    if incident.category.department_id is not None:
        db.session.add(Offer(incident_id=incident.id, department_id=incident.category.department_id))
        offers += 1
    return offers


def report_incident(*, category_code: str | None, description, lon=None, lat=None, geometry=None,
                    address=None, source: str = "web", reporter_name=None, reporter_phone=None,
                    attributes: dict | None = None, user=None, scope: Scope | None = None,
                    media_url: str | None = None, open311_key_id: int | None = None,
                    reported_at: dt.datetime | None = None, commit: bool = True) -> Incident:
    """Record a new incident in state ``reported``, routed to the grid's workers and the department."""
    errors = {}
    category = category_by_code(category_code) if isinstance(category_code, str) else None
    if category is None:
        errors["category"] = "unknown category code" if category_code else "required"
    if not isinstance(description, str) or not description.strip():
        errors["description"] = "required"
    elif len(description) > MAX_DESCRIPTION:
        errors["description"] = f"at most {MAX_DESCRIPTION} characters"
    if source not in SOURCES:
        errors["source"] = f"must be one of: {', '.join(SOURCES)}"
    for name, value, limit in (("address", address, 256), ("reporter_name", reporter_name, 64),
                               ("reporter_phone", reporter_phone, 32), ("media_url", media_url, 512)):
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            errors[name] = f"a string of at most {limit} characters"
    geom = extent = None
    try:
        if geometry is not None:
            shape = parse_geometry(geometry, allowed=("Point", "LineString", "Polygon", "MultiLineString",
                                                      "MultiPolygon"), promote_multi=False)
            if shape.geom_type == "Point":
                geom = shape
            else:
                extent, geom = shape, shape.representative_point()
        elif lon is None or lat is None:
            errors["location"] = "required: lon and lat (or a GeoJSON geometry)"
        else:
            geom = _point(lon, lat)
    except GeometryError as e:
        errors["geometry"] = str(e)
    except ApiError as e:
        errors.update(e.fields)
    if attributes is not None and not isinstance(attributes, dict):
        errors["attributes"] = "must be an object"
    if category is not None and isinstance(attributes, dict):
        errors.update(_check_attributes(category, attributes))
    if errors:
        raise ApiError(422, "the incident cannot be recorded: " + "; ".join(f"{k}: {v}" for k, v in errors.items()),
                       errors)
    if scope is not None and not _in_scope_point(scope, geom):
        raise ApiError(403, "the place lies outside your area", {"location": "outside your area"})
    incident = Incident(category_id=category.id, source=source, state="reported", description=description.strip(),
                        address=address, reporter_name=reporter_name or None, reporter_phone=reporter_phone or None,
                        reported_by=getattr(user, "id", None), geom=from_shape(geom, 4326),
                        extent=from_shape(extent, 4326) if extent is not None else None,
                        attributes=attributes or {}, media_url=media_url, open311_key_id=open311_key_id,
                        department_id=category.department_id)
    if reported_at is not None:
        incident.reported_at = incident.state_changed_at = reported_at
    if open311_key_id is not None:
        incident.open311_token = secrets.token_hex(16)
    db.session.add(incident)
    db.session.flush()
    db.session.refresh(incident, ["grid_id"])
    db.session.add(Transition(incident_id=incident.id, from_state=None, to_state="reported",
                              user_id=getattr(user, "id", None), note=None,
                              data={"source": source}, **({"created_at": reported_at} if reported_at else {})))
    _route(incident)
    record("insert", "incidents", incident.id, after=_public_snapshot(incident), user_id=getattr(user, "id", None))
    if commit:
        db.session.commit()
    return incident


def _check_attributes(category: IncidentCategory, attributes: dict) -> dict:
    errors = {}
    known = {a["code"]: a for a in category.attributes or []}
    for code, value in attributes.items():
        spec = known.get(code)
        if spec is None:
            errors[f"attribute[{code}]"] = "unknown attribute"
        elif spec.get("values") and str(value) not in {str(v["key"]) for v in spec["values"]}:
            errors[f"attribute[{code}]"] = "not one of the allowed values"
        elif not isinstance(value, (str, int, float)) or len(str(value)) > 500:
            errors[f"attribute[{code}]"] = "a short text or number"
    for code, spec in known.items():
        if spec.get("required") and code not in attributes:
            errors[f"attribute[{code}]"] = "required"
    return errors


def _public_snapshot(incident: Incident) -> dict:
    snap = snapshot(incident)
    for key in ("reporter_name", "reporter_phone"):
        if snap.get(key):
            snap[key] = "***"
    return snap


def attach_report(incident_id: int, note: str, user, scope: Scope) -> Incident:
    """Attach a new report to an existing open incident instead of opening a duplicate."""
    incident = _load(incident_id, scope, lock=True)
    if incident.state not in OPEN_STATES:
        raise ApiError(409, "reports can only be attached to open incidents")
    if not isinstance(note, str) or not note.strip() or len(note) > MAX_DESCRIPTION:
        raise ApiError(422, "note: required, at most 4000 characters", {"note": "required"})
    db.session.add(Transition(incident_id=incident.id, from_state=incident.state, to_state=incident.state,
                              user_id=user.id, note=note.strip(), data={"attached_report": True}))
    record("attach_report", "incidents", incident.id, after={"note": note.strip()})
    db.session.commit()
    return incident


# --- workflow -----------------------------------------------------------------------------------

def _load(incident_id, scope: Scope | None, lock: bool = False) -> Incident:
    if not isinstance(incident_id, int) or isinstance(incident_id, bool) or not 0 < incident_id < 2**62:
        raise ApiError(404, "no such incident")
    stmt = select(Incident).where(Incident.id == incident_id)
    if scope is not None:
        stmt = stmt.where(grid_clause(scope, Incident.grid_id, Incident.geom))
    if lock:
        # Fresh values under the row lock: another request may have just moved the incident.
        stmt = stmt.with_for_update(of=Incident).execution_options(populate_existing=True)
    incident = db.session.scalar(stmt)
    if incident is None:
        raise ApiError(404, f"no incident {incident_id} in your area")
    return incident


def get_incident(incident_id: int, scope: Scope | None) -> Incident:
    """An incident the scope may see, or 404."""
    return _load(incident_id, scope)


def _ref_id(value, name: str, errors: dict):
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        errors[name] = "must be an id"
        return None
    try:
        return int(value)
    except ValueError:
        errors[name] = "must be an id"
        return None


def transition(incident_id: int, to_state: str, user, scope: Scope, note: str | None = None,
               data: dict | None = None, photo_ids: list[int] | None = None,
               at: dt.datetime | None = None, commit: bool = True) -> Incident:
    """Move an incident to ``to_state`` if the workflow and the user's role allow it (409/403 otherwise)."""
    data = dict(data or {})
    if not isinstance(to_state, str) or to_state not in STATES:
        raise ApiError(422, f"to must be one of: {', '.join(STATES)}", {"to": "unknown state"})
    if note is not None and (not isinstance(note, str) or len(note) > MAX_DESCRIPTION):
        raise ApiError(422, "note: a text of at most 4000 characters", {"note": "too long or not text"})
    incident = _load(incident_id, scope, lock=True)
    roles = allowed_roles(incident.state, to_state)
    if roles is None:
        allowed = ", ".join(TRANSITIONS.get(incident.state, {})) or "none (final state)"
        raise ApiError(409, f"an incident in state {incident.state!r} cannot go to {to_state!r}; "
                            f"next states: {allowed}", {"to": "transition not allowed"}, code="conflict")
    if user.role not in roles:
        raise ApiError(403, f"role {user.role!r} may not move an incident from {incident.state} to {to_state}; "
                            f"needs one of {', '.join(roles)}")
    before = _public_snapshot(incident)
    errors: dict = {}
    extra: dict = {}
    if to_state == "dispatched":
        dep = _ref_id(data.get("department_id"), "department_id", errors)
        assignee = _ref_id(data.get("assignee_id"), "assignee_id", errors)
        company = _ref_id(data.get("property_company_id"), "property_company_id", errors)
        if not errors and not (dep or assignee or company):
            errors["target"] = "dispatch to a department_id, an assignee_id (grid worker) or a property_company_id"
        if dep and db.session.get(Department, dep) is None:
            errors["department_id"] = "unknown department"
        if assignee:
            from app.auth.models import User
            target = db.session.get(User, assignee)
            if target is None or not target.active:
                errors["assignee_id"] = "unknown user"
        if company:
            from app.basemap.models import PropertyCompany
            if db.session.get(PropertyCompany, company) is None:
                errors["property_company_id"] = "unknown property company"
        incident.department_id, incident.assignee_id, incident.property_company_id = dep, assignee, company
        extra = {"department_id": dep, "assignee_id": assignee, "property_company_id": company}
    elif to_state == "duplicate":
        original_id = _ref_id(data.get("duplicate_of"), "duplicate_of", errors)
        if original_id is None and "duplicate_of" not in errors:
            errors["duplicate_of"] = "required: the id of the original incident"
        elif original_id is not None:
            original = db.session.scalar(select(Incident).where(Incident.id == original_id,
                                                                grid_clause(scope, Incident.grid_id, Incident.geom)))
            if original is None or original.id == incident.id:
                errors["duplicate_of"] = "no such other incident in your area"
            elif original.state == "duplicate":
                errors["duplicate_of"] = "link to the original, not to another duplicate"
            else:
                incident.duplicate_of_id = original.id
                extra = {"duplicate_of": original.id}
    elif to_state == "consultation":
        meeting_id = _ref_id(data.get("meeting_id"), "meeting_id", errors)
        if meeting_id is not None:
            from app.consultations.models import Meeting
            if db.session.get(Meeting, meeting_id) is None:
                errors["meeting_id"] = "unknown meeting"
            else:
                incident.meeting_id = meeting_id
                extra = {"meeting_id": meeting_id}
    elif to_state == "evaluated":
        rating = data.get("rating")
        if isinstance(rating, str) and rating.isdigit():
            rating = int(rating)
        if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
            errors["rating"] = "required: 1 (poor) to 5 (very satisfied)"
        else:
            incident.rating = rating
            extra = {"rating": rating}
    if errors:
        raise ApiError(422, "; ".join(f"{k}: {v}" for k, v in errors.items()), errors)
    now = at or db.session.scalar(select(func.now()))
    from_state = incident.state
    incident.state = to_state
    incident.state_changed_at = now
    if to_state == "closed":
        incident.closed_at = now
    elif to_state in ("rejected", "duplicate"):
        incident.closed_at = now
    elif to_state not in CLOSED_STATES:
        incident.closed_at = None
    step = Transition(incident_id=incident.id, from_state=from_state, to_state=to_state, user_id=user.id,
                      note=(note or "").strip() or None, data=extra, created_at=now)
    db.session.add(step)
    db.session.flush()
    if photo_ids:
        for photo in db.session.scalars(select(Photo).where(Photo.id.in_(photo_ids),
                                                            Photo.incident_id == incident.id)):
            photo.transition_id = step.id
    record("transition", "incidents", incident.id, before=before, after=_public_snapshot(incident))
    if commit:
        db.session.commit()
    return incident


def timeline(incident_id: int) -> list[Transition]:
    """The incident's steps, oldest first."""
    return list(db.session.scalars(select(Transition).where(Transition.incident_id == incident_id)
                                   .order_by(Transition.created_at, Transition.id)))


def offers(incident_id: int) -> list[dict]:
    """To whom the incident was offered when it came in."""
    from app.auth.models import User
    rows = db.session.execute(
        select(Offer.user_id, User.display_name, Department.name)
        .select_from(Offer).outerjoin(User, User.id == Offer.user_id)
        .outerjoin(Department, Department.id == Offer.department_id)
        .where(Offer.incident_id == incident_id).order_by(Offer.id))
    return [{"user_id": r[0], "user": r[1], "department": r[2]} for r in rows]


def offered_to(user_id: int, scope: Scope, limit: int = 50) -> list[Incident]:
    """Open incidents offered to or dispatched to a user (their to-do list)."""
    stmt = (select(Incident).where(Incident.state.in_(OPEN_STATES),
                                   grid_clause(scope, Incident.grid_id, Incident.geom),
                                   or_(Incident.assignee_id == user_id,
                                       Incident.id.in_(select(Offer.incident_id).where(Offer.user_id == user_id))))
            .order_by(Incident.reported_at.desc()).limit(limit))
    return list(db.session.scalars(stmt))


def overdue_of(incident: Incident) -> tuple[dt.datetime | None, bool]:
    """Due time and overdue flag for one incident, from SQL."""
    row = db.session.execute(select(due_at_sql(), overdue_sql()).select_from(Incident)
                             .join(IncidentCategory, IncidentCategory.id == Incident.category_id)
                             .where(Incident.id == incident.id)).one()
    return row[0], bool(row[1])


# --- lists --------------------------------------------------------------------------------------

def category_ids(codes: list[str]) -> list[int]:
    """Ids of the categories ``codes`` and their subtrees (codes nest with dots: ``bikes.misparked``)."""
    subtree = []
    for code in codes:
        subtree += [IncidentCategory.code == code, IncidentCategory.code.startswith(code + ".", autoescape=True)]
    return list(db.session.scalars(select(IncidentCategory.id).where(or_(*subtree))))


def _plan_for_pages() -> None:
    """Page queries walk indexes; parallel scans and JIT cost more than they save here (see DESIGN.md)."""
    db.session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
    db.session.execute(text("SET LOCAL jit = off"))


def filter_conditions(scope: Scope, f: dict) -> list:
    """SQL conditions for parsed list filters (see ``views.parse_filters``)."""
    conds = [grid_clause(scope, Incident.grid_id, Incident.geom)]
    if f.get("state"):
        conds.append(Incident.state.in_(f["state"]))
    if f.get("source"):
        conds.append(Incident.source.in_(f["source"]))
    if f.get("category"):
        # Resolved to ids first: the planner then knows how selective the filter is.
        conds.append(Incident.category_id.in_(category_ids(f["category"]) or [-1]))
    if f.get("grid"):
        conds.append(Incident.grid_id.in_(select(Area.id).where(Area.code.startswith(f["grid"], autoescape=True))))
    if f.get("overdue") is True:
        conds.append(overdue_sql())
    elif f.get("overdue") is False:
        conds.append(~overdue_sql())
    if f.get("open") is True:
        conds.append(Incident.state.in_(OPEN_STATES))
    if f.get("mine"):
        conds.append(or_(Incident.assignee_id == f["mine"],
                         Incident.id.in_(select(Offer.incident_id).where(Offer.user_id == f["mine"]))))
    if f.get("from"):
        conds.append(Incident.reported_at >= f["from"])
    if f.get("to"):
        conds.append(Incident.reported_at < f["to"])
    if f.get("bbox"):
        conds.append(Incident.geom.intersects(func.ST_MakeEnvelope(*f["bbox"], 4326)))
    if f.get("q"):
        conds.append(Incident.description.ilike("%" + like_escape(f["q"]) + "%"))
    return conds


def _base(scope: Scope, f: dict):
    return (select().select_from(Incident).join(IncidentCategory, IncidentCategory.id == Incident.category_id)
            .where(*filter_conditions(scope, f)))


def _order(stmt, sort: str):
    col = SORTS[sort.lstrip("-")]
    return stmt.order_by(col.desc() if sort.startswith("-") else col.asc(), Incident.id.desc())


def count_incidents(scope: Scope, f: dict, cap: int = COUNT_CAP) -> tuple[int, bool]:
    """How many match, counted up to ``cap`` (True when there are more)."""
    _plan_for_pages()
    inner = _base(scope, f).add_columns(literal(1)).limit(cap + 1).subquery()
    n = db.session.scalar(select(func.count()).select_from(inner))
    return min(n, cap), n > cap


def feature_collection(scope: Scope, f: dict, limit: int, offset: int, sort: str = "-reported_at") -> tuple[str, int]:
    """The ``features`` array (JSON text built by PostgreSQL) and how many it holds. No personal data."""
    _plan_for_pages()
    grid = aliased(Area)
    props = func.json_build_object(
        literal("id"), Incident.id, literal("state"), Incident.state,
        literal("category"), IncidentCategory.code, literal("category_name"), IncidentCategory.name,
        literal("source"), Incident.source, literal("description"), Incident.description,
        literal("address"), Incident.address, literal("reported_at"), Incident.reported_at,
        literal("state_changed_at"), Incident.state_changed_at, literal("closed_at"), Incident.closed_at,
        literal("due_at"), due_at_sql(), literal("overdue"), overdue_sql(),
        literal("grid_code"), grid.code, literal("grid_name"), grid.name,
        literal("duplicate_of"), Incident.duplicate_of_id, literal("meeting_id"), Incident.meeting_id)
    feature = func.json_build_object(literal("type"), literal("Feature"), literal("id"), Incident.id,
                                     literal("geometry"), cast(func.ST_AsGeoJSON(Incident.geom, 7), JSON),
                                     literal("properties"), props)
    page = _order(_base(scope, f).outerjoin(grid, grid.id == Incident.grid_id).add_columns(feature.label("f")),
                  sort).limit(limit).offset(offset).subquery()
    row = db.session.execute(select(func.coalesce(func.json_agg(page.c.f), literal_column("'[]'::json")),
                                    func.count())).one()
    return json.dumps(row[0], ensure_ascii=False, default=str) if not isinstance(row[0], str) else row[0], row[1]


def list_rows(scope: Scope, f: dict, limit: int, offset: int = 0, sort: str = "-reported_at") -> list[dict]:
    """Rows for the list page and the CSV export (no personal data)."""
    _plan_for_pages()
    grid = aliased(Area)
    stmt = _order(_base(scope, f).outerjoin(grid, grid.id == Incident.grid_id).add_columns(
        Incident.id, Incident.state, IncidentCategory.code.label("category"), IncidentCategory.name.label("category_name"),
        Incident.source, Incident.description, Incident.address, Incident.reported_at, Incident.state_changed_at,
        Incident.closed_at, due_at_sql().label("due_at"), overdue_sql().label("overdue"),
        grid.code.label("grid_code"), grid.name.label("grid_name"),
        func.ST_X(Incident.geom).label("lon"), func.ST_Y(Incident.geom).label("lat")), sort).limit(limit).offset(offset)
    return [dict(r._mapping) for r in db.session.execute(stmt)]


def state_counts(scope: Scope) -> dict:
    """Open incidents per state and how many are overdue, for the list page header."""
    rows = db.session.execute(_base(scope, {"open": True}).add_columns(
        Incident.state, func.count(), func.count().filter(overdue_sql())).group_by(Incident.state))
    return {r[0]: {"count": r[1], "overdue": r[2]} for r in rows}


def can_read_personal(user, incident: Incident | None = None) -> bool:
    """Reporter contact: the grid's workers, community staff and admins (the incident is already in scope)."""
    return getattr(user, "role", None) in PERSONAL_ROLES


def incident_dict(incident: Incident, user, with_personal: bool = True) -> dict:
    """The API form of one incident, with its timeline; reporter contact only for allowed roles."""
    due, overdue = overdue_of(incident)
    grid = db.session.get(Area, incident.grid_id) if incident.grid_id else None
    from geoalchemy2.shape import to_shape
    from shapely.geometry import mapping
    out = {
        "type": "Feature", "id": incident.id, "geometry": mapping(to_shape(incident.geom)),
        "properties": {
            "state": incident.state, "category": incident.category.code, "category_name": incident.category.name,
            "source": incident.source, "description": incident.description, "address": incident.address,
            "reported_at": incident.reported_at.isoformat(), "state_changed_at": incident.state_changed_at.isoformat(),
            "closed_at": incident.closed_at.isoformat() if incident.closed_at else None,
            "due_at": due.isoformat() if due else None, "overdue": overdue,
            "grid_code": grid.code if grid else None, "grid_name": grid.name if grid else None,
            "department_id": incident.department_id, "assignee_id": incident.assignee_id,
            "property_company_id": incident.property_company_id, "duplicate_of": incident.duplicate_of_id,
            "meeting_id": incident.meeting_id, "rating": incident.rating, "attributes": incident.attributes or {},
            "extent": mapping(to_shape(incident.extent)) if incident.extent is not None else None,
            "timeline": [{"from": t.from_state, "to": t.to_state, "at": t.created_at.isoformat(),
                          "by": t.user.display_name if t.user else None, "note": t.note, "data": t.data}
                         for t in timeline(incident.id)],
            "photos": [{"id": p.id, "url": f"/api/v1/incidents/{incident.id}/photos/{p.id}",
                        "thumbnail": f"/api/v1/incidents/{incident.id}/photos/{p.id}?size=thumb",
                        "width": p.width, "height": p.height, "transition_id": p.transition_id}
                       for p in photos_of(incident.id)],
            "offered_to": offers(incident.id),
        }}
    if with_personal and can_read_personal(user, incident):
        out["properties"]["reporter"] = {"name": incident.reporter_name, "phone": incident.reporter_phone}
        if incident.reporter_name or incident.reporter_phone:
            record("read_personal", "incidents", incident.id, after={"fields": ["reporter_name", "reporter_phone"]})
            db.session.commit()
    return out


def photos_of(incident_id: int) -> list[Photo]:
    """Photos of an incident, oldest first."""
    return list(db.session.scalars(select(Photo).where(Photo.incident_id == incident_id).order_by(Photo.id)))


# --- admin: the category tree ------------------------------------------------------------------

def _category_values(body: dict, partial: bool) -> dict:
    from app.incidents.workflow import TIMED_STAGES
    errors, values = {}, {}
    if not partial or "code" in body:
        code = body.get("code")
        if not isinstance(code, str) or not code or len(code) > 64 or \
                not all(c.isascii() and (c.isalnum() or c in "._-") for c in code):
            errors["code"] = "required: letters, digits, '.', '_' or '-' (at most 64)"
        else:
            values["code"] = code
    for name, limit, required in (("name", 128, not partial), ("name_en", 128, False)):
        if name in body or required:
            v = body.get(name)
            if v is None and not required:
                values[name] = None
            elif not isinstance(v, str) or not v.strip() or len(v) > limit:
                errors[name] = f"a text of at most {limit} characters"
            else:
                values[name] = v.strip()
    if "parent" in body:
        parent = body["parent"]
        if parent is None:
            values["parent_id"] = None
        else:
            pid = db.session.scalar(select(IncidentCategory.id).where(IncidentCategory.code == parent)) \
                if isinstance(parent, str) else None
            if pid is None:
                errors["parent"] = "unknown category code"
            else:
                values["parent_id"] = pid
    if "department_id" in body:
        dep = body["department_id"]
        if dep is not None and (isinstance(dep, bool) or not isinstance(dep, int) or db.session.get(Department, dep) is None):
            errors["department_id"] = "unknown department"
        else:
            values["department_id"] = dep
            values["department"] = db.session.get(Department, dep).name if dep else None
    if "deadlines" in body:
        d = body["deadlines"]
        if not isinstance(d, dict) or any(k not in TIMED_STAGES or isinstance(v, bool)
                                          or not isinstance(v, (int, float)) or not 0 < v <= 24 * 365
                                          for k, v in d.items()):
            errors["deadlines"] = f"an object of hours (0 < h ≤ 8760) per stage: {', '.join(TIMED_STAGES)}"
        else:
            values["deadlines"] = d
    if "attributes" in body:
        a = body["attributes"]
        if not isinstance(a, list) or any(not isinstance(x, dict) or not isinstance(x.get("code"), str)
                                          or not x["code"] for x in a):
            errors["attributes"] = "a list of {code, description, datatype, required, values}"
        else:
            values["attributes"] = a
    if "active" in body:
        if not isinstance(body["active"], bool):
            errors["active"] = "true or false"
        else:
            values["active"] = body["active"]
    if errors:
        raise ApiError(422, "; ".join(f"{k}: {v}" for k, v in errors.items()), errors)
    return values


def create_category(body: dict) -> IncidentCategory:
    """Add a node to the category tree (admin)."""
    values = _category_values(body, partial=False)
    if db.session.scalar(select(IncidentCategory.id).where(IncidentCategory.code == values["code"])):
        raise ApiError(409, f"category {values['code']} exists", {"code": "taken"})
    values.setdefault("deadlines", {})
    values.setdefault("attributes", [])
    cat = IncidentCategory(**values)
    db.session.add(cat)
    db.session.flush()
    record("insert", "incident_categories", cat.id, after=snapshot(cat))
    db.session.commit()
    return cat


def update_category(code: str, body: dict) -> IncidentCategory:
    """Change a category's names, parent, department, deadlines, attributes or active flag (admin)."""
    cat = db.session.scalar(select(IncidentCategory).where(IncidentCategory.code == code))
    if cat is None:
        raise ApiError(404, f"no category {code}")
    values = _category_values(body, partial=True)
    if values.get("parent_id") == cat.id:
        raise ApiError(422, "a category cannot be its own parent", {"parent": "itself"})
    if "code" in values and values["code"] != cat.code:
        raise ApiError(422, "codes do not change (Open311 clients keep them)", {"code": "immutable"})
    before = snapshot(cat)
    for k, v in values.items():
        setattr(cat, k, v)
    db.session.flush()
    record("update", "incident_categories", cat.id, before=before, after=snapshot(cat))
    db.session.commit()
    return cat
