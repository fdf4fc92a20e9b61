"""Care plans (关爱计划): a household visited every N days, and who is due or overdue.

"When is each active plan due" is one query (:func:`due_subquery`): the last visit (any purpose) in
Asia/Shanghai days plus the frequency, or the start date when nobody has visited since.
"""

import datetime as dt
import json

from sqlalchemy import Date, and_, cast, func, literal, or_, select, true
from sqlalchemy.dialects.postgresql import aggregate_order_by

from app.areas.models import Area, grid_workers
from app.audit.services import audited_insert, audited_read, audited_update, record
from app.auth import policy
from app.auth.models import User
from app.basemap.models import Building
from app.core.errors import ApiError
from app.core.extensions import db
from app.core.sql import index_driven, one_or_404
from app.core.time import TZ, TZ_NAME, today
from app.households.common import require_personal
from app.households.models import CarePlan, Household, Tag, Visit, household_tags
from app.households.schemas import CarePlanIn, CarePlanPatch


def _check_worker(household: Household, worker_id: int | None) -> None:
    """The worker walks the household's grid (assigned to it, or their area is it) or is its community's staff."""
    if worker_id is None:
        return
    community = household.grid.code[:12] if household.grid else ""
    ok = db.session.scalar(
        select(func.count())
        .select_from(User)
        .where(
            User.id == worker_id,
            or_(
                User.id.in_(select(grid_workers.c.user_id).where(grid_workers.c.area_id == household.grid_id)),
                User.area_id.in_(select(Area.id).where(Area.id == household.grid_id)),
                and_(
                    User.role.in_(policy.roles_with("care_plans.community_worker")),
                    User.area_id.in_(select(Area.id).where(Area.code == community)),
                ),
            ),
        )
    )
    if not ok:
        raise ApiError(
            422,
            "the worker must be a grid worker of the household's grid or its community staff",
            {"worker_id": "not a worker of this grid"},
        )


def create_care_plan(user, body: CarePlanIn) -> CarePlan:
    """A visit frequency for a household (one active plan per household)."""
    require_personal(user)
    h = db.session.scalar(
        select(Household).where(Household.id == body.household_id, policy.personal_clause(user, Household.grid_id))
    )
    if h is None:
        raise ApiError(422, "unknown household", {"household_id": "unknown or not yours"})
    _check_worker(h, body.worker_id)
    if db.session.scalar(select(CarePlan.id).where(CarePlan.household_id == h.id, CarePlan.active.is_(True))):
        raise ApiError(409, "this household already has an active care plan", {"household_id": "has a plan"})
    values = body.model_dump(exclude_unset=True)
    values["start_date"] = body.start_date or today()
    values["purpose"] = body.purpose or "care_visit"
    return audited_insert(CarePlan(**values))


def _plan(user, plan_id: int) -> CarePlan:
    require_personal(user)
    return one_or_404(
        select(CarePlan).join(Household).where(CarePlan.id == plan_id, policy.personal_clause(user, Household.grid_id)),
        f"no care plan {plan_id} among the files you may read",
    )


def get_care_plan(user, plan_id: int) -> CarePlan:
    """One care plan of a file the user may read (audited)."""
    return audited_read(_plan(user, plan_id))


def update_care_plan(user, plan_id: int, body: CarePlanPatch) -> CarePlan:
    """Change a plan's frequency, worker or state."""
    plan = _plan(user, plan_id)
    values = body.model_dump(exclude_unset=True)
    if "worker_id" in values:
        _check_worker(plan.household, values["worker_id"])
    return audited_update(plan, values)


def plan_dict(p: CarePlan) -> dict:
    return {
        "id": p.id,
        "household_id": p.household_id,
        "frequency_days": p.frequency_days,
        "worker_id": p.worker_id,
        "start_date": p.start_date.isoformat() if p.start_date else None,
        "purpose": p.purpose,
        "note": p.note,
        "active": p.active,
    }


# ----------------------------------------------------------------------------- who is due


def due_subquery():
    """Active plans with ``plan_id, household_id, worker_id, frequency_days, building_id, grid_id,
    last_visit, next_due`` (the day the next visit is due, in Asia/Shanghai)."""
    last = (
        select(func.max(Visit.visited_at).label("last_visit"))
        .where(Visit.household_id == CarePlan.household_id)
        .lateral("lv")
    )
    last_day = cast(func.timezone(TZ_NAME, last.c.last_visit), Date)
    next_due = func.coalesce(
        func.greatest(last_day + CarePlan.frequency_days, CarePlan.start_date), CarePlan.start_date
    )
    return (
        select(
            CarePlan.id.label("plan_id"),
            CarePlan.household_id,
            CarePlan.worker_id,
            CarePlan.frequency_days,
            Household.building_id,
            Household.grid_id,
            last.c.last_visit,
            next_due.label("next_due"),
        )
        .join(Household, Household.id == CarePlan.household_id)
        .outerjoin(last, true())
        .where(CarePlan.active.is_(True))
        .subquery("due")
    )


def _plan_tags(household_id):
    return (
        select(func.array_agg(aggregate_order_by(Tag.code, Tag.id)))
        .select_from(household_tags)
        .join(Tag, Tag.id == household_tags.c.tag_id)
        .where(household_tags.c.household_id == household_id)
        .scalar_subquery()
    )


def due_plans(
    user, worker_id: int | None = None, on: dt.date | None = None, horizon_days: int = 0, overdue_only: bool = False
) -> list[dict]:
    """Plans due by ``on`` + ``horizon_days`` (overdue first), among the files the user may read."""
    require_personal(user)
    on = on or today()
    d = due_subquery()
    cond = [
        policy.personal_clause(user, d.c.grid_id),
        d.c.next_due < on if overdue_only else d.c.next_due <= on + dt.timedelta(days=horizon_days),
    ]
    if worker_id is not None:
        cond.append(d.c.worker_id == worker_id)
    # Plain columns, not ORM objects: a grid can have hundreds of households due. The due query's row
    # estimate is far above what it returns (the last-visit lateral): at 20k plans PostgreSQL JIT-compiled
    # it, which cost 180 ms of a 300 ms query.
    index_driven()
    rows = db.session.execute(
        select(
            d,
            Household.head_name,
            Household.flat_no,
            Household.phone,
            Building.name.label("building"),
            Area.code.label("grid_code"),
            _plan_tags(d.c.household_id).label("tags"),
            User.display_name.label("worker"),
        )
        .join(Household, Household.id == d.c.household_id)
        .join(Building, Building.id == d.c.building_id)
        .outerjoin(Area, Area.id == d.c.grid_id)
        .outerjoin(User, User.id == d.c.worker_id)
        .where(*cond)
        .order_by(d.c.next_due, d.c.household_id)
    ).all()
    out = [
        {
            "plan_id": r.plan_id,
            "household_id": r.household_id,
            "household": r.head_name,
            "flat_no": r.flat_no,
            "phone": r.phone,
            "building": r.building,
            "building_id": r.building_id,
            "grid_code": r.grid_code,
            "worker_id": r.worker_id,
            "worker": r.worker,
            "frequency_days": r.frequency_days,
            "last_visit": r.last_visit.astimezone(TZ).isoformat() if r.last_visit else None,
            "next_due": r.next_due.isoformat(),
            "days_overdue": max(0, (on - r.next_due).days),
            "overdue": r.next_due < on,
            "tags": list(r.tags or []),
        }
        for r in rows
    ]
    if out:
        record("list", "care_plans", None, after={"household_ids": [o["household_id"] for o in out]})
        db.session.commit()
    return out


def _reader_clause(user, grid_col):
    """File readers: their grids, exactly; others: their whole area, for counts they get suppressed."""
    personal = policy.reads_personal(user)
    return personal, (policy.personal_clause(user, grid_col) if personal else policy.counts_clause(user, grid_col))


def due_counts(user, by: str = "grid", on: dt.date | None = None) -> list[dict]:
    """Active plans, due today and overdue per grid (or building), for dashboards.

    Readers without file access get suppressed counts (:func:`app.auth.policy.suppress`).
    """
    on = on or today()
    d = due_subquery()
    key = d.c.grid_id if by == "grid" else d.c.building_id
    personal, where = _reader_clause(user, d.c.grid_id)
    index_driven()
    rows = db.session.execute(
        select(
            key.label("key"),
            func.count().label("plans"),
            func.count().filter(d.c.next_due <= on).label("due"),
            func.count().filter(d.c.next_due < on).label("overdue"),
        )
        .where(where)
        .group_by(key)
        .order_by(key)
    ).all()
    codes = {}
    if by == "grid":
        codes = dict(
            db.session.execute(select(Area.id, Area.code).where(Area.id.in_([r.key for r in rows if r.key]))).all()
        )
    out = []
    for r in rows:
        item = {
            "grid_code" if by == "grid" else "building_id": codes.get(r.key, r.key),
            "plans": r.plans,
            "due": r.due,
            "overdue": r.overdue,
        }
        if not personal:
            item.update({k: policy.suppress(item[k]) for k in ("plans", "due", "overdue")})
            if by == "building" and item["plans"] is None:
                continue  # a building listed with "<5" would still point at a handful of households
        out.append(item)
    return out


def visits_due_geojson(user, bbox=None, limit: int = 1000, on: dt.date | None = None) -> str:
    """Buildings with care-plan visits due, as GeoJSON built in SQL.

    File readers get exact counts for their grids; others get suppressed counts, and only
    buildings whose count survives suppression are shown (a lone marker would single out a household).
    """
    on = on or today()
    d = due_subquery()
    personal, where = _reader_clause(user, d.c.grid_id)
    counts = (
        select(
            d.c.building_id,
            func.count().filter(d.c.next_due <= on).label("due"),
            func.count().filter(d.c.next_due < on).label("overdue"),
        )
        .where(where)
        .group_by(d.c.building_id)
        .subquery("c")
    )
    cond = [counts.c.due > 0]
    if not personal:
        cond.append(counts.c.due >= policy.SMALL_COUNT)
    if bbox:
        cond.append(Building.geom.intersects(func.ST_MakeEnvelope(*bbox, 4326)))
    feature = func.json_build_object(
        "type",
        "Feature",
        "id",
        Building.id,
        "geometry",
        func.ST_AsGeoJSON(func.ST_PointOnSurface(Building.geom), 6).cast(db.JSON),
        "properties",
        func.json_build_object(
            "building", Building.name, "due", counts.c.due, "overdue", counts.c.overdue if personal else None
        ),
    )
    inner = (
        select(feature.label("f"))
        .select_from(counts)
        .join(Building, Building.id == counts.c.building_id)
        .where(*cond)
        .order_by(counts.c.due.desc())
        .limit(limit)
        .subquery()
    )
    index_driven()
    body = db.session.scalar(select(func.coalesce(func.json_agg(inner.c.f), cast(literal("[]"), db.JSON))))
    return json.dumps({"type": "FeatureCollection", "features": body}, ensure_ascii=False)
