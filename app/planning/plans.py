"""Charger siting plans (充电桩选址方案): solve, save under a name, export, turn into planned chargers.

A plan over a community (or a grid) is solved while the planner waits; over a street or larger it is
queued as a background job (:mod:`app.core.jobs`) whose progress the page follows. The maths is
:mod:`gis.siting` (spopt's MCLP, solved exactly); the demand is :mod:`app.planning.demand`; the
candidates and distances :mod:`app.planning.candidates`.
"""

import logging
import time

from shapely.geometry import Point
from sqlalchemy import select

from app.areas.models import Area
from app.audit.services import record, snapshot
from app.auth import policy
from app.basemap.layers import get_layer
from app.basemap.services import insert_feature
from app.core import jobs
from app.core.errors import ApiError
from app.core.extensions import db
from app.core.sql import conflict_as_409
from app.core.time import now
from app.planning import candidates as cand
from app.planning.areas import SMALL_LEVELS, area_in_reach
from app.planning.demand import area_demand, demand_summary
from app.planning.models import ChargerPlan
from app.planning.results import build_result
from app.planning.schemas import PlanIn
from gis.siting import SitingError, solve_mclp

log = logging.getLogger(__name__)
STEPS = ("demand", "candidates", "distances", "solving", "saving")


def _progress(plan: ChargerPlan, step: str, commit: bool) -> None:
    plan.progress = {"step": step, "done": STEPS.index(step), "of": len(STEPS)}
    if commit:  # a job: the page reads each step as it happens
        db.session.commit()


def _sites(area: Area, params: dict) -> list[cand.Candidate]:
    out = []
    if params["candidates"] in ("generated", "both"):
        out += cand.generated(area)
    if params["candidates"] in ("drawn", "both"):
        out += [cand.Candidate(s["lon"], s["lat"], "drawn", s.get("ports", 10), s.get("name")) for s in params["sites"]]
    if len(out) > cand.MAX_CANDIDATES:
        raise SitingError(
            f"{len(out)} candidate sites; at most {cand.MAX_CANDIDATES}: draw them or plan a smaller area"
        )
    return out


def solve(plan: ChargerPlan, commit_steps: bool = False) -> dict:
    """Compute ``plan``'s result from its parameters (demand, candidates, distances, MCLP)."""
    started = time.perf_counter()
    params, area = plan.params, db.session.get(Area, plan.area_id)
    _progress(plan, "demand", commit_steps)
    demand, how = area_demand(area)
    _progress(plan, "candidates", commit_steps)
    today = cand.today_chargers(area)
    new = _sites(area, params)
    if params["new_sites"] > len(new):
        raise SitingError(f"{params['new_sites']} new sites asked but only {len(new)} candidate sites")
    sites = today + new
    _progress(plan, "distances", commit_steps)
    pairs = cand.pairs_within(demand, sites, params["radius_m"])
    _progress(plan, "solving", commit_steps)
    weights = [d.weight for d in demand]
    siting = solve_mclp(weights, pairs, len(sites), params["radius_m"], params["new_sites"], list(range(len(today))))
    result = build_result(demand, sites, today, pairs, siting, params)
    result["demand"] = {**demand_summary(demand), "estimate": how}
    result["seconds"] = round(time.perf_counter() - started, 2)
    return result


def _run(plan: ChargerPlan, commit_steps: bool) -> None:
    try:
        plan.status = "running"
        plan.result = solve(plan, commit_steps)
        plan.status = "done"
    except SitingError as e:
        plan.status, plan.error = "failed", str(e)
    _progress(plan, "saving", False)
    plan.finished_at = now()


def create_plan(user, body: PlanIn) -> ChargerPlan:
    """Save a named plan; solve it now (a community) or queue it (a street or larger)."""
    scope = policy.scope_of(user)
    area = area_in_reach(scope, body.area)
    away = cand.outside(area, body.sites) if body.candidates != "generated" else []
    if away:
        raise ApiError(
            422,
            f"drawn site(s) {', '.join(str(i + 1) for i in away)} lie outside {area.name}",
            {f"sites.{i}": "outside the area" for i in away},
        )
    plan = ChargerPlan(
        name=body.name, area_id=area.id, params=body.model_dump(exclude={"name", "area"}), created_by=user.id
    )
    with conflict_as_409(f"a plan named {body.name!r} exists for {area.name}", {"name": "taken in this area"}):
        db.session.add(plan)
        db.session.flush()
    if area.level in SMALL_LEVELS:
        _run(plan, commit_steps=False)
        if plan.status == "failed":
            db.session.rollback()
            raise ApiError(422, f"the plan cannot be solved: {plan.error}", {"new_sites": plan.error})
    else:
        jobs.defer("planning.solve_plan", plan_id=plan.id)
    record("insert", "charger_plans", plan.id, after=snapshot(plan), user_id=user.id)
    db.session.commit()
    return plan


def run_queued(plan_id: int) -> None:
    """The background job: solve a queued plan, saving each step's progress."""
    plan = db.session.get(ChargerPlan, plan_id)
    if plan is None or plan.status not in ("queued", "running"):
        return
    try:
        _run(plan, commit_steps=True)
    except Exception as e:
        db.session.rollback()
        plan = db.session.get(ChargerPlan, plan_id)
        plan.status, plan.error, plan.finished_at = "failed", f"unexpected error: {type(e).__name__}", now()
        log.exception("charger plan %s failed", plan_id)
    db.session.commit()


def _reach(user):
    scope = policy.scope_of(user)
    if scope.everything:
        return select(ChargerPlan)
    return (
        select(ChargerPlan)
        .join(Area, Area.id == ChargerPlan.area_id)
        .where(Area.code.startswith(scope.area_code, autoescape=True))
    )


def get_plan(user, plan_id: int) -> ChargerPlan:
    """A plan over an area in the user's reach; 404 otherwise."""
    plan = db.session.scalar(_reach(user).where(ChargerPlan.id == plan_id))
    if plan is None:
        raise ApiError(404, f"no charger plan {plan_id} in your area")
    return plan


def list_plans(user, limit: int = 100) -> list[ChargerPlan]:
    """Plans in the user's reach, newest first."""
    return list(db.session.scalars(_reach(user).order_by(ChargerPlan.id.desc()).limit(limit)))


def plan_dict(plan: ChargerPlan) -> dict:
    area = db.session.get(Area, plan.area_id)
    return {
        "id": plan.id,
        "name": plan.name,
        "area": area.code,
        "area_name": area.name,
        "status": plan.status,
        "progress": plan.progress or {},
        "params": plan.params,
        "result": plan.result,
        "error": plan.error,
        "created_at": plan.created_at.isoformat() if plan.created_at else None,
        "chargers_made_at": plan.chargers_made_at.isoformat() if plan.chargers_made_at else None,
    }


def make_chargers(user, plan_id: int) -> list[int]:
    """The plan's new sites as chargers with status ``planned``, in one transaction (once per plan)."""
    plan = get_plan(user, plan_id)
    db.session.refresh(plan, with_for_update=True)
    if plan.status != "done" or not plan.result:
        raise ApiError(409, f"plan {plan.name!r} has no result yet ({plan.status})")
    if plan.chargers_made_at is not None:
        raise ApiError(409, f"the chargers of plan {plan.name!r} were made already")
    layer, scope = get_layer("chargers"), policy.scope_of(user)
    ids = []
    try:
        for site in plan.result["sites"]:
            values = {
                "name": f"{plan.name} #{site['rank']}"[:128],
                "ports": site["ports"],
                "status": "planned",
                "operator": "规划方案",
            }
            ids.append(insert_feature(layer, scope, values, Point(site["lon"], site["lat"]))["id"])
        plan.chargers_made_at = now()
        record("make_chargers", "charger_plans", plan.id, after={"charger_ids": ids}, user_id=user.id)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return ids
