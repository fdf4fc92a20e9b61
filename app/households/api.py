"""``/api/v1/households``, ``/members``, ``/household-tags``, ``/visits``, ``/care-plans`` and the map
overlay of due visits. Same access rules as the pages: files are read by the grid's own workers,
community staff and admins (:func:`app.auth.policy.reads_personal`); reads are audited.
"""
from typing import Annotated, Literal

from flask import Response, url_for
from pydantic import Field
from sqlalchemy import select

from app.auth import policy
from app.households import care, export, files, stats, tags, visits
from app.households.models import CarePlan, Household, Member, Tag, Visit
from app.households.schemas import (
    CarePlanIn,
    CarePlanOut,
    CarePlanPatch,
    DueCount,
    DuePlan,
    HouseholdFile,
    HouseholdIn,
    HouseholdOut,
    HouseholdPage,
    HouseholdPatch,
    HouseholdStats,
    MemberIn,
    MemberOut,
    MemberPatch,
    TagIn,
    TagOut,
    TagPatch,
    VisitIn,
    VisitOut,
    VisitPage,
    VisitPatch,
)
from app.households.values import Day
from app.web.api import ApiBlueprint, endpoint, geojson_response, json_response
from app.web.etags import Versioned, child_rows
from app.web.params import AreaCode, Bbox, Id, Paging, Query, SearchText

bp = ApiBlueprint("households_api", __name__, tag="households")

FILES = "personal.read"        # the role may hold files; which files is the services' business


def _kept(grid_col):
    return policy.personal_clause(policy.require_login(), grid_col)


def _kept_households():
    return select(Household.id).where(_kept(Household.grid_id))


# Versioned records (app.web.etags): ETag on their answers, If-Match → 412 on their writes. A file's
# and a member's tag lists are rows of their own, replaced by the same writes: part of the version.
HOUSEHOLD = Versioned("households", Household.__table__, key="household_id", visible=lambda: _kept(Household.grid_id),
                      parts=(child_rows("household_tags", "household_id", "households", order="tag_id"),))
MEMBER = Versioned("members", Member.__table__, key="member_id",
                   visible=lambda: Member.household_id.in_(_kept_households()),
                   parts=(child_rows("member_tags", "member_id", "household_members", order="tag_id"),))
VISIT = Versioned("visits", Visit.__table__, key="visit_id", visible=lambda: _kept(Visit.grid_id))
CARE_PLAN = Versioned("care-plans", CarePlan.__table__, key="plan_id",
                      visible=lambda: CarePlan.household_id.in_(_kept_households()))
TAG = Versioned("household-tags", Tag.__table__, key="tag_id")


def no_content() -> Response:
    return Response("", status=204)


# ----------------------------------------------------------------------------- tags

class TagQuery(Query):
    all: bool = Field(False, description="1: retired tags too")


@bp.get("/household-tags")
@endpoint(query=TagQuery, response=list[TagOut])
def tag_list(query: TagQuery):
    """The key-group tags (tag names are not personal)."""
    return json_response([tags.tag_dict(t) for t in tags.list_tags(query.all)])


@bp.post("/household-tags")
@endpoint(body=TagIn, response=TagOut, status=201, permission="households.tags", errors=(409,))
def tag_create(body: TagIn):
    """Add a tag to the list."""
    t = tags.create_tag(policy.require_login(), body)
    return json_response({"id": t.id, "code": t.code, "name": t.name}, 201)


@bp.get("/household-tags/<int:tag_id>")
@endpoint(response=TagOut, errors=(404,), versioned=TAG)
def tag(tag_id: int):
    """One tag of the list."""
    return json_response(tags.tag_dict(tags.get_tag(tag_id)))


@bp.patch("/household-tags/<int:tag_id>")
@endpoint(body=TagPatch, response=TagOut, permission="households.tags", errors=(404,), versioned=TAG)
def tag_update(tag_id: int, body: TagPatch):
    """Rename or retire a tag (retired tags stay on old files)."""
    t = tags.update_tag(policy.require_login(), tag_id, body)
    return json_response({"id": t.id, "code": t.code, "name": t.name, "active": t.active})


# ----------------------------------------------------------------------------- households and members

class HouseholdQuery(Query, Paging):
    tag: Annotated[str, Field(max_length=32, description="a tag code")] | None = None
    grid: AreaCode | None = None
    building_id: Id | None = None
    q: SearchText | None = None
    limit: Annotated[int, Field(ge=1, le=1000)] = 200


@bp.get("/households")
@endpoint(query=HouseholdQuery, response=HouseholdPage, permission=FILES)
def household_list(query: HouseholdQuery):
    """The files the user keeps (the ids listed are audited)."""
    rows, total = files.list_households(policy.require_login(), tag=query.tag, grid=query.grid,
                                        building_id=query.building_id, q=query.q, limit=query.limit,
                                        offset=query.offset)
    return json_response({"total": total, "items": [files.household_dict(h) for h in rows]})


@bp.post("/households")
@endpoint(body=HouseholdIn, response=HouseholdOut, status=201, permission=FILES, errors=(409,))
def household_create(body: HouseholdIn):
    """Create a file at a building, with tags and members; 409 when the flat has a file."""
    h = files.create_household(policy.require_login(), body)
    return json_response(files.household_dict(h), 201,
                         {"Location": url_for("households_api.household", household_id=h.id)})


@bp.get("/households/<int:household_id>")
@endpoint(response=HouseholdFile, permission=FILES, errors=(404,), versioned=HOUSEHOLD)
def household(household_id: int):
    """One file with members and its last 50 visits (the read is audited)."""
    u = policy.require_login()
    h = files.get_household(u, household_id)
    rows, _total = visits.list_visits(u, household_id=h.id, limit=50)
    return json_response({**files.household_dict(h), "visits": [visits.visit_dict(v) for v in rows]})


@bp.patch("/households/<int:household_id>")
@endpoint(body=HouseholdPatch, response=HouseholdOut, permission=FILES, errors=(404, 409), versioned=HOUSEHOLD)
def household_update(household_id: int, body: HouseholdPatch):
    """Change a file; ``tags`` replaces the list."""
    return json_response(files.household_dict(files.update_household(policy.require_login(), household_id, body)))


@bp.delete("/households/<int:household_id>")
@endpoint(status=204, permission="households.manage", errors=(404,), versioned=HOUSEHOLD)
def household_delete(household_id: int):
    """Delete a file with its members, visits and plans."""
    files.delete_household(policy.require_login(), household_id)
    return no_content()


@bp.get("/households/stats")
@endpoint(response=HouseholdStats)
def household_stats():
    """Households per grid and per tag (counts below 5 are null)."""
    return json_response({"k": policy.SMALL_COUNT, "grids": stats.household_stats(policy.require_login())})


@bp.get("/households/export.csv")
@endpoint(permission=FILES)
def households_csv():
    """CSV of the files the user keeps, one row per member (audited as an export)."""
    return export.households_csv(policy.require_login())


@bp.post("/households/<int:household_id>/members")
@endpoint(body=MemberIn, response=MemberOut, status=201, permission=FILES, errors=(404,))
def member_create(household_id: int, body: MemberIn):
    """Add a member to a file."""
    return json_response(files.member_dict(files.add_member(policy.require_login(), household_id, body)), 201)


@bp.get("/members/<int:member_id>")
@endpoint(response=MemberOut, permission=FILES, errors=(404,), versioned=MEMBER)
def member(member_id: int):
    """One member of a file (the read is audited)."""
    return json_response(files.member_dict(files.get_member(policy.require_login(), member_id)))


@bp.patch("/members/<int:member_id>")
@endpoint(body=MemberPatch, response=MemberOut, permission=FILES, errors=(404,), versioned=MEMBER)
def member_update(member_id: int, body: MemberPatch):
    """Change a member; ``tags`` replaces their tags."""
    return json_response(files.member_dict(files.update_member(policy.require_login(), member_id, body)))


@bp.delete("/members/<int:member_id>")
@endpoint(status=204, permission=FILES, errors=(404,), versioned=MEMBER)
def member_delete(member_id: int):
    """Remove a member."""
    files.delete_member(policy.require_login(), member_id)
    return no_content()


# ----------------------------------------------------------------------------- visits

class VisitQuery(Query, Paging):
    household_id: Id | None = None
    from_: Day | None = Field(None, alias="from", description="YYYY-MM-DD (Asia/Shanghai)")
    to: Day | None = Field(None, description="YYYY-MM-DD, inclusive")
    limit: Annotated[int, Field(ge=1, le=1000)] = 200


@bp.get("/visits")
@endpoint(query=VisitQuery, response=VisitPage, permission=FILES)
def visit_list(query: VisitQuery):
    """The visits the user may read, newest first (audited)."""
    rows, total = visits.list_visits(policy.require_login(), household_id=query.household_id, start=query.from_,
                                     end=query.to, limit=query.limit, offset=query.offset)
    return json_response({"total": total, "items": [visits.visit_dict(v) for v in rows]})


@bp.post("/visits")
@endpoint(body=VisitIn, response=VisitOut, status=201, permission=FILES)
def visit_create(body: VisitIn):
    """Log a visit to a household, a building or a position."""
    return json_response(visits.visit_dict(visits.log_visit(policy.require_login(), body)), 201)


@bp.get("/visits/<int:visit_id>")
@endpoint(response=VisitOut, permission=FILES, errors=(404,), versioned=VISIT)
def visit(visit_id: int):
    """One visit (audited)."""
    return json_response(visits.visit_dict(visits.get_visit(policy.require_login(), visit_id)))


@bp.patch("/visits/<int:visit_id>")
@endpoint(body=VisitPatch, response=VisitOut, permission=FILES, errors=(404,), versioned=VISIT)
def visit_update(visit_id: int, body: VisitPatch):
    """Notes and follow-up (``follow_up_done``) of a visit."""
    return json_response(visits.visit_dict(visits.update_visit(policy.require_login(), visit_id, body)))


# ----------------------------------------------------------------------------- care plans

@bp.post("/care-plans")
@endpoint(body=CarePlanIn, response=CarePlanOut, status=201, permission=FILES, errors=(409,))
def care_plan_create(body: CarePlanIn):
    """A visit frequency for a household (one active plan per household)."""
    return json_response(care.plan_dict(care.create_care_plan(policy.require_login(), body)), 201)


@bp.get("/care-plans/<int:plan_id>")
@endpoint(response=CarePlanOut, permission=FILES, errors=(404,), versioned=CARE_PLAN)
def care_plan(plan_id: int):
    """One care plan (the read is audited)."""
    return json_response(care.plan_dict(care.get_care_plan(policy.require_login(), plan_id)))


@bp.patch("/care-plans/<int:plan_id>")
@endpoint(body=CarePlanPatch, response=CarePlanOut, permission=FILES, errors=(404,), versioned=CARE_PLAN)
def care_plan_update(plan_id: int, body: CarePlanPatch):
    """Change a care plan's frequency, worker or state."""
    return json_response(care.plan_dict(care.update_care_plan(policy.require_login(), plan_id, body)))


WorkerRef = Annotated[str, Field(pattern=r"^(me|[1-9][0-9]{0,9})?$",
                                 description="'me', a user id, or empty for every worker")]


class DueQuery(Query):
    worker: WorkerRef | None = Field(None, description="default: 'me' for grid workers, everyone for others")
    on: Day | None = Field(None, description="the day (default today)")
    within_days: Annotated[int, Field(ge=0, le=60)] = 0
    overdue: bool = Field(False, description="1: overdue only")


@bp.get("/care-plans/due")
@endpoint(query=DueQuery, response=list[DuePlan], permission=FILES)
def care_plans_due(query: DueQuery):
    """Households due for a visit, overdue first."""
    u = policy.require_login()
    worker = query.worker if query.worker is not None else ("me" if policy.can(u, "visits.round") else "")
    worker_id = u.id if worker == "me" else (int(worker) if worker else None)
    return json_response(care.due_plans(u, worker_id=worker_id, on=query.on, horizon_days=query.within_days,
                                        overdue_only=query.overdue))


class CountsQuery(Query):
    by: Literal["grid", "building"] = "grid"
    on: Day | None = Field(None, description="the day (default today)")


@bp.get("/care-plans/counts")
@endpoint(query=CountsQuery, response=list[DueCount])
def care_plans_counts(query: CountsQuery):
    """Plans, due and overdue per grid or building (suppressed for counts-only readers)."""
    return json_response(care.due_counts(policy.require_login(), by=query.by, on=query.on))


class OverlayQuery(Query):
    bbox: Bbox | None = None
    limit: Annotated[int, Field(ge=1, le=10000)] = 1000


@bp.get("/overlays/visits-due")
@endpoint(query=OverlayQuery)
def overlay_visits_due(query: OverlayQuery):
    """Map overlay: buildings with visits due (GeoJSON; suppressed for counts-only readers)."""
    return geojson_response(care.visits_due_geojson(policy.require_login(), query.bbox, query.limit))
