"""Household files, members, tags, visits and care plans: the rules and the transactions.

Every function takes the acting user; reads of personal data are limited by
:func:`app.households.privacy.personal_clause` and written to the audit log. Rows the
user may not read are reported as 404 (so that ids do not leak); roles that may never
read files get 403.
"""
import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, literal_column, or_, select, text
from sqlalchemy.dialects.postgresql import aggregate_order_by

from app.basemap.fields import Field, FieldError, parse_fields
from app.audit.services import record, snapshot
from app.auth.models import User
from app.basemap.models import Building
from app.core.errors import ApiError
from app.core.extensions import db
from app.households.models import VISIT_PURPOSES, GENDERS, CarePlan, Household, Member, Tag, Visit
from app.households.privacy import counts_clause, personal_clause, reads_personal, suppress

TZ = ZoneInfo("Asia/Shanghai")


def today() -> dt.date:
    """Today in Asia/Shanghai."""
    return dt.datetime.now(TZ).date()


def require_personal(user) -> None:
    """403 for roles that never read household files."""
    if not reads_personal(user):
        raise ApiError(403, f"role {user.role!r} sees counts only; household files are for the grid's "
                            "workers, community staff and admins")


def _fail(errors: dict, message="invalid input") -> None:
    if errors:
        raise ApiError(422, message, errors)


# ----------------------------------------------------------------------------- tags

TAG_FIELDS = [Field("code", "str", required=True, max_len=32), Field("name", "str", required=True, max_len=64),
              Field("name_en", "str", max_len=64), Field("key_group", "bool"), Field("active", "bool")]


def list_tags(include_inactive: bool = False) -> list[Tag]:
    """The tag list (admin-managed)."""
    q = select(Tag).order_by(Tag.id)
    if not include_inactive:
        q = q.where(Tag.active.is_(True))
    return list(db.session.scalars(q))


def create_tag(user, data: dict) -> Tag:
    """Admins add a tag."""
    if user.role != "admin":
        raise ApiError(403, "only admins manage the tag list")
    values, errors = parse_fields(TAG_FIELDS, data)
    code = values.get("code") or ""
    if code and not (code[0].isalpha() and code.isascii() and code.replace("_", "").isalnum() and code.islower()):
        errors["code"] = "lower-case letters, digits and _"
    _fail(errors)
    if db.session.scalar(select(Tag.id).where(Tag.code == code)):
        raise ApiError(409, f"tag {code!r} exists", {"code": "taken"})
    tag = Tag(**values)
    db.session.add(tag)
    db.session.flush()
    record("insert", "tags", tag.id, after=snapshot(tag))
    db.session.commit()
    return tag


def update_tag(user, tag_id: int, data: dict) -> Tag:
    """Admins rename or retire a tag (retired tags stay on old files)."""
    if user.role != "admin":
        raise ApiError(403, "only admins manage the tag list")
    tag = db.session.get(Tag, tag_id)
    if tag is None:
        raise ApiError(404, f"no tag {tag_id}")
    values, errors = parse_fields([f for f in TAG_FIELDS if f.name != "code"], data, partial=True)
    _fail(errors)
    before = snapshot(tag)
    for k, v in values.items():
        setattr(tag, k, v)
    record("update", "tags", tag.id, before, snapshot(tag))
    db.session.commit()
    return tag


def resolve_tags(codes, field: str = "tags") -> list[Tag]:
    """Active tags for a list of codes; unknown codes are a 422 naming them."""
    if codes is None:
        return []
    if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
        raise ApiError(422, "tags must be a list of tag codes", {field: "must be a list of strings"})
    tags = list(db.session.scalars(select(Tag).where(Tag.code.in_(codes), Tag.active.is_(True))))
    unknown = sorted(set(codes) - {t.code for t in tags})
    if unknown:
        raise ApiError(422, f"unknown tag(s): {', '.join(unknown)}", {field: f"unknown: {', '.join(unknown)}"})
    return tags


# ----------------------------------------------------------------------------- households

HOUSEHOLD_FIELDS = [
    Field("building_id", "ref", required=True, ref="buildings"),
    Field("flat_no", "str", required=True, max_len=32, label="flat/room number, e.g. 3单元502"),
    Field("head_name", "str", required=True, max_len=64),
    Field("phone", "str", max_len=32),
    Field("notes", "text", max_len=4000),
]
MEMBER_FIELDS = [
    Field("name", "str", required=True, max_len=64),
    Field("relation", "str", max_len=32),
    Field("gender", "enum", choices=GENDERS),
    Field("birth_year", "int", min=1880, max=2100),
    Field("phone", "str", max_len=32),
    Field("party_member", "bool"),
    Field("health", "text", max_len=2000),
    Field("notes", "text", max_len=4000),
]
_MEMBER_EXTRA = ("age", "birth_date", "tags")


def parse_member(data, partial: bool = False, prefix: str = "") -> tuple[dict, list[Tag] | None]:
    """Member values from JSON: ``age`` (0–130) or ``birth_date`` become ``birth_year``."""
    if not isinstance(data, dict):
        raise ApiError(422, "a member must be a JSON object", {prefix or "member": "not an object"})
    plain = {k: v for k, v in data.items() if k not in _MEMBER_EXTRA}
    values, errors = parse_fields(MEMBER_FIELDS, plain, partial=partial)
    year = today().year
    if "birth_year" in values and values["birth_year"] is not None and values["birth_year"] > year:
        errors["birth_year"] = "in the future"
    if data.get("age") is not None:
        try:
            age = Field("age", "int", min=0, max=130).parse(data["age"])
            values["birth_year"] = year - age
        except FieldError as e:
            errors["age"] = str(e)
    if data.get("birth_date") is not None:
        try:
            born = Field("birth_date", "date").parse(data["birth_date"])
            if born > today() or born.year < 1880:
                raise FieldError("must be a past date after 1880")
            values["birth_year"] = born.year
        except FieldError as e:
            errors["birth_date"] = str(e)
    if errors:
        raise ApiError(422, "invalid member", {f"{prefix}{k}": v for k, v in errors.items()})
    tags = resolve_tags(data.get("tags"), f"{prefix}tags") if "tags" in data else None
    return values, tags


def _building_for(user, building_id: int) -> Building:
    b = db.session.get(Building, building_id)
    if b is None:
        raise ApiError(422, f"no building {building_id}", {"building_id": "unknown building"})
    ok = db.session.scalar(select(func.count()).select_from(Building).where(
        Building.id == b.id, personal_clause(user, Building.grid_id)))
    if not ok:
        raise ApiError(403, "that building is outside the grids whose files you keep", {"building_id": "not yours"})
    return b


def _personal_or_404(user, model, row_id: int, what: str):
    row = db.session.scalar(select(model).where(model.id == row_id, personal_clause(user, model.grid_id)))
    if row is None:
        raise ApiError(404, f"no {what} {row_id} among the files you may read")
    return row


def create_household(user, data: dict) -> Household:
    """A new file at a building, with tags and members (all or nothing)."""
    require_personal(user)
    if not isinstance(data, dict):
        raise ApiError(400, "send a JSON object")
    plain = {k: v for k, v in data.items() if k not in ("tags", "members")}
    values, errors = parse_fields(HOUSEHOLD_FIELDS, plain)
    _fail(errors, "invalid household")
    tags = resolve_tags(data.get("tags"))
    members_in = data.get("members") or []
    if not isinstance(members_in, list):
        raise ApiError(422, "members must be a list", {"members": "not a list"})
    members = [parse_member(m, prefix=f"members[{i}].") for i, m in enumerate(members_in)]
    b = _building_for(user, values["building_id"])
    if db.session.scalar(select(Household.id).where(Household.building_id == b.id,
                                                    Household.flat_no == values["flat_no"])):
        raise ApiError(409, f"{b.name} {values['flat_no']} already has a file", {"flat_no": "taken"})
    h = Household(**values, grid_id=b.grid_id, created_by=user.id)
    h.tags = tags
    for mv, mtags in members:
        m = Member(**mv)
        m.tags = mtags or []
        h.members.append(m)
    db.session.add(h)
    db.session.flush()
    record("insert", "households", h.id, after=household_dict(h))
    db.session.commit()
    return h


def get_household(user, household_id: int, audit: bool = True) -> Household:
    """One file, if the user may read it; the read is audited."""
    require_personal(user)
    h = _personal_or_404(user, Household, household_id, "household")
    if audit:
        record("read", "households", h.id)
        db.session.commit()
    return h


def list_households(user, tag: str | None = None, grid: str | None = None, building_id: int | None = None,
                    q: str | None = None, limit: int = 200, offset: int = 0, audit: bool = True,
                    action: str = "list") -> tuple[list[Household], int]:
    """Files the user may read, filtered; the ids returned are audited."""
    from app.areas.models import Area
    require_personal(user)
    cond = [personal_clause(user, Household.grid_id)]
    if tag:
        if not db.session.scalar(select(Tag.id).where(Tag.code == tag)):
            raise ApiError(400, f"unknown tag {tag!r}", {"tag": "unknown"})
        cond.append(Household.tags.any(Tag.code == tag))
    if grid:
        cond.append(Household.grid_id.in_(select(Area.id).where(Area.code.startswith(grid, autoescape=True))))
    if building_id:
        cond.append(Household.building_id == building_id)
    if q:
        like = f"%{q}%"
        cond.append(or_(Household.head_name.ilike(like), Household.flat_no.ilike(like),
                        Household.members.any(Member.name.ilike(like))))
    total = db.session.scalar(select(func.count()).select_from(Household).where(*cond))
    order = (Household.building_id, Household.flat_no)
    ids = list(db.session.scalars(select(Household.id).where(*cond).order_by(*order).limit(limit).offset(offset)))
    if audit:
        # Audit and commit before loading: a commit expires loaded rows, and serialising
        # expired rows would cost one query per household.
        record(action, "households", None, after={"ids": ids, "tag": tag, "grid": grid, "q": q})
        db.session.commit()
    rows = list(db.session.scalars(select(Household).where(Household.id.in_(ids)).order_by(*order)).unique()) \
        if ids else []
    return rows, total


def update_household(user, household_id: int, data: dict) -> Household:
    """Change the file's fields and/or its tags (``tags`` replaces the list)."""
    h = get_household(user, household_id, audit=False)
    if not isinstance(data, dict):
        raise ApiError(400, "send a JSON object")
    plain = {k: v for k, v in data.items() if k != "tags"}
    values, errors = parse_fields(HOUSEHOLD_FIELDS, plain, partial=True)
    _fail(errors, "invalid household")
    tags = resolve_tags(data["tags"]) if "tags" in data else None
    before = household_dict(h)
    if "building_id" in values and values["building_id"] != h.building_id:
        b = _building_for(user, values["building_id"])
        h.grid_id = b.grid_id
    for k, v in values.items():
        setattr(h, k, v)
    if tags is not None:
        h.tags = tags
    db.session.flush()
    record("update", "households", h.id, before, household_dict(h))
    db.session.commit()
    return h


def delete_household(user, household_id: int) -> None:
    """Remove a file (members, visits and plans go with it)."""
    h = get_household(user, household_id, audit=False)
    if user.role not in ("admin", "staff"):
        raise ApiError(403, "only community staff and admins delete files")
    before = household_dict(h)
    db.session.delete(h)
    record("delete", "households", household_id, before=before)
    db.session.commit()


def add_member(user, household_id: int, data: dict) -> Member:
    """A new member in a household the user keeps."""
    h = get_household(user, household_id, audit=False)
    values, tags = parse_member(data)
    m = Member(**values, household_id=h.id)
    m.tags = tags or []
    db.session.add(m)
    db.session.flush()
    record("insert", "household_members", m.id, after=member_dict(m))
    db.session.commit()
    return m


def _member(user, member_id: int) -> Member:
    m = db.session.get(Member, member_id)
    if m is None:
        raise ApiError(404, f"no member {member_id} among the files you may read")
    get_household(user, m.household_id, audit=False)
    return m


def update_member(user, member_id: int, data: dict) -> Member:
    """Change a member; ``tags`` replaces their tags."""
    m = _member(user, member_id)
    values, tags = parse_member(data, partial=True)
    before = member_dict(m)
    for k, v in values.items():
        setattr(m, k, v)
    if tags is not None:
        m.tags = tags
    db.session.flush()
    record("update", "household_members", m.id, before, member_dict(m))
    db.session.commit()
    return m


def delete_member(user, member_id: int) -> None:
    """Remove a member."""
    m = _member(user, member_id)
    before = member_dict(m)
    db.session.delete(m)
    record("delete", "household_members", member_id, before=before)
    db.session.commit()


def member_dict(m: Member) -> dict:
    """A member as JSON (personal)."""
    return {"id": m.id, "name": m.name, "relation": m.relation, "gender": m.gender,
            "birth_year": m.birth_year, "age": m.age, "phone": m.phone, "party_member": m.party_member,
            "health": m.health, "notes": m.notes, "tags": [t.code for t in m.tags]}


def household_dict(h: Household, members: bool = True) -> dict:
    """A file as JSON (personal)."""
    out = {"id": h.id, "building_id": h.building_id, "building": h.building.name if h.building else None,
           "flat_no": h.flat_no, "head_name": h.head_name, "phone": h.phone, "notes": h.notes,
           "grid_code": h.grid.code if h.grid else None, "grid_name": h.grid.name if h.grid else None,
           "tags": [t.code for t in h.tags],
           "tag_names": [t.name for t in h.tags]}
    if members:
        out["members"] = [member_dict(m) for m in h.members]
    return out


# ----------------------------------------------------------------------------- visits

VISIT_FIELDS = [
    Field("household_id", "ref", ref="households"),
    Field("building_id", "ref", ref="buildings"),
    Field("place", "str", max_len=256),
    Field("visited_at", "datetime"),
    Field("purpose", "enum", required=True, choices=VISIT_PURPOSES),
    Field("visitor_names", "str", max_len=256),
    Field("notes", "text", max_len=4000),
    Field("follow_up", "text", max_len=2000),
    Field("follow_up_due", "date"),
    Field("follow_up_done", "bool"),
    Field("lon", "float", min=-180, max=180),
    Field("lat", "float", min=-90, max=90),
]


def log_visit(user, data: dict) -> Visit:
    """Record a visit to a household or a place; the phone's position is optional."""
    require_personal(user)
    if not isinstance(data, dict):
        raise ApiError(400, "send a JSON object")
    plain = {k: v for k, v in data.items() if k != "visitor_ids"}
    values, errors = parse_fields(VISIT_FIELDS, plain)
    lon, lat = values.pop("lon", None), values.pop("lat", None)
    if (lon is None) != (lat is None):
        errors["lon" if lon is None else "lat"] = "give both lon and lat, or neither"
    if not (values.get("household_id") or values.get("building_id") or lon is not None):
        errors["household_id"] = "a visit needs a household, a building or a position"
    when = values.get("visited_at") or dt.datetime.now(TZ)
    if when > dt.datetime.now(TZ) + dt.timedelta(minutes=10):
        errors["visited_at"] = "in the future"
    values["visited_at"] = when
    visitor_ids = data.get("visitor_ids") or []
    if not isinstance(visitor_ids, list) or not all(isinstance(i, int) and not isinstance(i, bool)
                                                     for i in visitor_ids):
        errors["visitor_ids"] = "must be a list of user ids"
        visitor_ids = []
    _fail(errors, "invalid visit")
    visitors = list(db.session.scalars(select(User).where(User.id.in_(visitor_ids)))) if visitor_ids else []
    if len(visitors) != len(set(visitor_ids)):
        raise ApiError(422, "unknown visitor id(s)", {"visitor_ids": "unknown user"})
    grid_id = None
    if values.get("household_id"):
        h = db.session.scalar(select(Household).where(Household.id == values["household_id"],
                                                      personal_clause(user, Household.grid_id)))
        if h is None:
            raise ApiError(422, f"no household {values['household_id']} among the files you keep",
                           {"household_id": "unknown or not yours"})
        values.setdefault("building_id", h.building_id)
        values["building_id"] = values["building_id"] or h.building_id
        grid_id = h.grid_id
    elif values.get("building_id"):
        grid_id = _building_for(user, values["building_id"]).grid_id
    v = Visit(**values, grid_id=grid_id, created_by=user.id)
    if lon is not None:
        v.geom = func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326)
    v.visitors = visitors or ([user] if user.role in ("grid_worker", "staff") else [])
    db.session.add(v)
    db.session.flush()
    db.session.refresh(v)
    if v.grid_id is None or not db.session.scalar(
            select(func.count()).select_from(Visit).where(Visit.id == v.id, personal_clause(user, Visit.grid_id))):
        raise ApiError(403, "that place is outside the grids you work in", {"lon": "outside your grids"})
    record("insert", "visits", v.id, after=visit_dict(v))
    db.session.commit()
    return v


def list_visits(user, household_id: int | None = None, start: dt.date | None = None,
                end: dt.date | None = None, limit: int = 200, offset: int = 0) -> tuple[list[Visit], int]:
    """Visits the user may read, newest first."""
    require_personal(user)
    cond = [personal_clause(user, Visit.grid_id)]
    if household_id:
        cond.append(Visit.household_id == household_id)
    if start:
        cond.append(Visit.visited_at >= dt.datetime.combine(start, dt.time(), TZ))
    if end:
        cond.append(Visit.visited_at < dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), TZ))
    total = db.session.scalar(select(func.count()).select_from(Visit).where(*cond))
    order = (Visit.visited_at.desc(), Visit.id.desc())
    ids = list(db.session.scalars(select(Visit.id).where(*cond).order_by(*order).limit(limit).offset(offset)))
    if not ids:
        return [], total
    record("list", "visits", None, after={"ids": ids})
    db.session.commit()
    return list(db.session.scalars(select(Visit).where(Visit.id.in_(ids)).order_by(*order)).unique()), total


def get_visit(user, visit_id: int) -> Visit:
    """One visit the user may read (audited)."""
    require_personal(user)
    v = _personal_or_404(user, Visit, visit_id, "visit")
    record("read", "visits", v.id)
    db.session.commit()
    return v


def update_visit(user, visit_id: int, data: dict) -> Visit:
    """Change a visit's notes and follow-up (e.g. mark the follow-up done)."""
    require_personal(user)
    v = _personal_or_404(user, Visit, visit_id, "visit")
    allowed = [f for f in VISIT_FIELDS if f.name in ("notes", "follow_up", "follow_up_due", "follow_up_done",
                                                      "visitor_names", "place")]
    values, errors = parse_fields(allowed, data if isinstance(data, dict) else {}, partial=True)
    _fail(errors, "invalid visit")
    before = visit_dict(v)
    for k, val in values.items():
        setattr(v, k, False if k == "follow_up_done" and val is None else val)
    db.session.flush()
    record("update", "visits", v.id, before, visit_dict(v))
    db.session.commit()
    return v


def visit_dict(v: Visit) -> dict:
    """A visit as JSON (personal)."""
    pos = None
    if v.geom is not None:
        from geoalchemy2.shape import to_shape
        p = to_shape(v.geom)
        pos = {"lon": p.x, "lat": p.y}
    return {"id": v.id, "household_id": v.household_id,
            "household": f"{v.household.head_name} {v.household.flat_no}" if v.household else None,
            "building_id": v.building_id, "building": v.building.name if v.building else None,
            "place": v.place, "visited_at": v.visited_at.astimezone(TZ).isoformat() if v.visited_at else None,
            "purpose": v.purpose, "visitor_names": v.visitor_names,
            "visitors": [u.display_name for u in v.visitors], "notes": v.notes, "follow_up": v.follow_up,
            "follow_up_due": v.follow_up_due.isoformat() if v.follow_up_due else None,
            "follow_up_done": v.follow_up_done, "position": pos}


# ----------------------------------------------------------------------------- care plans

CARE_PLAN_FIELDS = [
    Field("household_id", "ref", required=True, ref="households"),
    Field("frequency_days", "int", required=True, min=1, max=366),
    Field("worker_id", "ref", ref="users"),
    Field("start_date", "date"),
    Field("purpose", "enum", choices=VISIT_PURPOSES),
    Field("note", "text", max_len=2000),
    Field("active", "bool"),
]


def _check_worker(household: Household, worker_id: int | None) -> None:
    if worker_id is None:
        return
    from app.areas.models import Area, grid_workers
    ok = db.session.scalar(select(func.count()).select_from(User).where(
        User.id == worker_id, or_(
            User.id.in_(select(grid_workers.c.user_id).where(grid_workers.c.area_id == household.grid_id)),
            User.area_id.in_(select(Area.id).where(Area.id == household.grid_id)),
            and_(User.role == "staff", User.area_id.in_(
                select(Area.id).where(Area.code == (household.grid.code[:12] if household.grid else ""))))
        )))
    if not ok:
        raise ApiError(422, "the worker must be a grid worker of the household's grid or its community staff",
                       {"worker_id": "not a worker of this grid"})


def create_care_plan(user, data: dict) -> CarePlan:
    """A visit frequency for a household (one active plan per household)."""
    require_personal(user)
    values, errors = parse_fields(CARE_PLAN_FIELDS, data if isinstance(data, dict) else {})
    _fail(errors, "invalid care plan")
    h = db.session.scalar(select(Household).where(Household.id == values["household_id"],
                                                  personal_clause(user, Household.grid_id)))
    if h is None:
        raise ApiError(422, "unknown household", {"household_id": "unknown or not yours"})
    _check_worker(h, values.get("worker_id"))
    if db.session.scalar(select(CarePlan.id).where(CarePlan.household_id == h.id, CarePlan.active.is_(True))):
        raise ApiError(409, "this household already has an active care plan", {"household_id": "has a plan"})
    values.setdefault("start_date", today())
    values["start_date"] = values["start_date"] or today()
    values["purpose"] = values.get("purpose") or "care_visit"
    plan = CarePlan(**values)
    db.session.add(plan)
    db.session.flush()
    record("insert", "care_plans", plan.id, after=snapshot(plan))
    db.session.commit()
    return plan


def update_care_plan(user, plan_id: int, data: dict) -> CarePlan:
    """Change a plan's frequency, worker or state."""
    require_personal(user)
    plan = db.session.scalar(select(CarePlan).join(Household).where(
        CarePlan.id == plan_id, personal_clause(user, Household.grid_id)))
    if plan is None:
        raise ApiError(404, f"no care plan {plan_id} among the files you may read")
    values, errors = parse_fields([f for f in CARE_PLAN_FIELDS if f.name != "household_id"],
                                  data if isinstance(data, dict) else {}, partial=True)
    _fail(errors, "invalid care plan")
    if "worker_id" in values:
        _check_worker(plan.household, values["worker_id"])
    before = snapshot(plan)
    for k, v in values.items():
        setattr(plan, k, v)
    db.session.flush()
    record("update", "care_plans", plan.id, before, snapshot(plan))
    db.session.commit()
    return plan


# The one query for "when is each active plan due": last visit (any purpose) in Shanghai
# days plus the frequency, or the start date when nobody has visited since.
DUE_SQL = """
    SELECT cp.id AS plan_id, cp.household_id, cp.worker_id, cp.frequency_days, h.building_id, h.grid_id,
           lv.last_visit,
           COALESCE(GREATEST((lv.last_visit AT TIME ZONE 'Asia/Shanghai')::date + cp.frequency_days,
                             cp.start_date), cp.start_date) AS next_due
    FROM care_plans cp
    JOIN households h ON h.id = cp.household_id
    LEFT JOIN LATERAL (SELECT max(v.visited_at) AS last_visit FROM visits v
                       WHERE v.household_id = cp.household_id) lv ON true
    WHERE cp.active
"""


def _no_jit() -> None:
    """The due query's row estimate is far above what it returns (the last-visit lateral); at
    20k plans PostgreSQL then JIT-compiles it, which cost 180 ms of a 300 ms query. Off for this
    transaction only."""
    db.session.execute(text("SET LOCAL jit = off"))


def _due_subquery():
    return text(DUE_SQL).columns(
        literal_column("plan_id"), literal_column("household_id"), literal_column("worker_id"),
        literal_column("frequency_days"), literal_column("building_id"), literal_column("grid_id"),
        literal_column("last_visit"), literal_column("next_due")).subquery("due")


def due_plans(user, worker_id: int | None = None, on: dt.date | None = None, horizon_days: int = 0,
              overdue_only: bool = False) -> list[dict]:
    """Plans due by ``on`` + ``horizon_days`` (overdue first), among the files the user may read."""
    require_personal(user)
    on = on or today()
    d = _due_subquery()
    cond = [personal_clause(user, d.c.grid_id),
            d.c.next_due < on if overdue_only else d.c.next_due <= on + dt.timedelta(days=horizon_days)]
    if worker_id is not None:
        cond.append(d.c.worker_id == worker_id)
    from app.areas.models import Area
    from app.households.models import household_tags
    tags = (select(func.array_agg(aggregate_order_by(Tag.code, Tag.id)))
            .select_from(household_tags).join(Tag, Tag.id == household_tags.c.tag_id)
            .where(household_tags.c.household_id == d.c.household_id).scalar_subquery())
    # Plain columns, not ORM objects: a grid can have hundreds of households due.
    _no_jit()
    rows = db.session.execute(
        select(d, Household.head_name, Household.flat_no, Building.name.label("building"),
               Area.code.label("grid_code"), tags.label("tags"), User.display_name.label("worker"))
        .join(Household, Household.id == d.c.household_id).join(Building, Building.id == d.c.building_id)
        .outerjoin(Area, Area.id == d.c.grid_id).outerjoin(User, User.id == d.c.worker_id)
        .where(*cond).order_by(d.c.next_due, d.c.household_id)).all()
    out = []
    for r in rows:
        out.append({"plan_id": r.plan_id, "household_id": r.household_id, "household": r.head_name,
                    "flat_no": r.flat_no, "building": r.building, "building_id": r.building_id,
                    "grid_code": r.grid_code, "worker_id": r.worker_id, "worker": r.worker,
                    "frequency_days": r.frequency_days,
                    "last_visit": r.last_visit.astimezone(TZ).isoformat() if r.last_visit else None,
                    "next_due": r.next_due.isoformat(), "days_overdue": max(0, (on - r.next_due).days),
                    "overdue": r.next_due < on, "tags": list(r.tags or [])})
    if out:
        record("list", "care_plans", None, after={"household_ids": [o["household_id"] for o in out]})
        db.session.commit()
    return out


def due_counts(user, by: str = "grid", on: dt.date | None = None) -> list[dict]:
    """Active plans, due today and overdue per grid (or building), for dashboards.

    Readers without file access get suppressed counts (:func:`suppress`).
    """
    from app.areas.models import Area
    on = on or today()
    d = _due_subquery()
    key = d.c.grid_id if by == "grid" else d.c.building_id
    personal = reads_personal(user)
    _no_jit()
    rows = db.session.execute(
        select(key.label("key"), func.count().label("plans"),
               func.count().filter(d.c.next_due <= on).label("due"),
               func.count().filter(d.c.next_due < on).label("overdue"))
        .where(personal_clause(user, d.c.grid_id) if personal else counts_clause(user, d.c.grid_id))
        .group_by(key).order_by(key)).all()
    codes = {}
    if by == "grid":
        codes = dict(db.session.execute(select(Area.id, Area.code).where(
            Area.id.in_([r.key for r in rows if r.key]))).all())
    out = []
    for r in rows:
        item = {"grid_code" if by == "grid" else "building_id": codes.get(r.key, r.key),
                "plans": r.plans, "due": r.due, "overdue": r.overdue}
        if not personal:
            item.update({k: suppress(item[k]) for k in ("plans", "due", "overdue")})
            if by == "building" and item["plans"] is None:
                continue  # a building listed with "<5" would still point at a handful of households
        out.append(item)
    return out


def household_stats(user) -> list[dict]:
    """Households per grid and per tag; suppressed below 5 for everybody (it is an aggregate)."""
    from app.areas.models import Area
    from app.households.models import household_tags
    clause = personal_clause(user, Household.grid_id) if reads_personal(user) \
        else counts_clause(user, Household.grid_id)
    totals = db.session.execute(select(Area.code, Area.name, func.count(Household.id))
                                .join(Area, Area.id == Household.grid_id).where(clause)
                                .group_by(Area.code, Area.name).order_by(Area.code)).all()
    per_tag = db.session.execute(select(Area.code, Tag.code, func.count(Household.id))
                                 .select_from(Household).join(Area, Area.id == Household.grid_id)
                                 .join(household_tags, household_tags.c.household_id == Household.id)
                                 .join(Tag, Tag.id == household_tags.c.tag_id).where(clause)
                                 .group_by(Area.code, Tag.code)).all()
    tags: dict = {}
    for grid, tag, n in per_tag:
        tags.setdefault(grid, {})[tag] = suppress(n)
    return [{"grid_code": code, "grid_name": name, "households": suppress(n), "by_tag": tags.get(code, {})}
            for code, name, n in totals]


def visits_due_geojson(user, bbox=None, limit: int = 1000, on: dt.date | None = None) -> str:
    """Buildings with care-plan visits due, as GeoJSON built in SQL.

    File readers get exact counts for their grids; others get suppressed counts, and only
    buildings whose count survives suppression are shown (a lone marker would single out a household).
    """
    on = on or today()
    personal = reads_personal(user)
    d = _due_subquery()
    where = personal_clause(user, d.c.grid_id) if personal else counts_clause(user, d.c.grid_id)
    counts = (select(d.c.building_id, func.count().filter(d.c.next_due <= on).label("due"),
                     func.count().filter(d.c.next_due < on).label("overdue"))
              .where(where).group_by(d.c.building_id).subquery("c"))
    cond = [counts.c.due > 0]
    if not personal:
        cond.append(counts.c.due >= 5)
    if bbox:
        cond.append(Building.geom.intersects(func.ST_MakeEnvelope(*bbox, 4326)))
    feature = func.json_build_object(
        "type", "Feature", "id", Building.id,
        "geometry", func.ST_AsGeoJSON(func.ST_PointOnSurface(Building.geom), 6).cast(db.JSON),
        "properties", func.json_build_object("building", Building.name, "due", counts.c.due,
                                             "overdue", counts.c.overdue if personal else None))
    inner = (select(feature.label("f")).select_from(counts).join(Building, Building.id == counts.c.building_id)
             .where(*cond).order_by(counts.c.due.desc()).limit(limit).subquery())
    _no_jit()
    body = db.session.scalar(select(func.coalesce(func.json_agg(inner.c.f), text("'[]'::json"))))
    import json
    return json.dumps({"type": "FeatureCollection", "features": body}, ensure_ascii=False)
