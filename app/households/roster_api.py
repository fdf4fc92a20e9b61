"""``/api/v1/roster``, ``/api/v1/households/<id>/obligations``, ``/api/v1/obligations/<id>/done``: the
yearly obligations of households (网格员名册) and marking them done. Personal data: the readers of the
household files only (:func:`app.auth.policy.personal_clause`)."""

import datetime as dt
from typing import Annotated, Literal

from flask_login import current_user
from pydantic import BaseModel, Field

from app.households import rosters
from app.households.models import OBLIGATION_KINDS
from app.web.api import ApiBlueprint, endpoint, json_response
from app.web.params import Body, Id, Query
from app.web.values import Day, Flag, Text

bp = ApiBlueprint("rosters_api", __name__, tag="households")
READ = "personal.read"

Kind = Literal[OBLIGATION_KINDS]
Month = Annotated[int, Field(ge=1, le=12)]


class ObligationIn(Body):
    """A yearly obligation of the household: what, in which month, for whom."""

    kind: Kind
    due_month: Month
    member_id: Annotated[Id | None, Field(description="the member it is for (of this household)")] = None
    at_home: Annotated[Flag, Field(description="done at home: the person cannot come")] = False
    note: Text(2000) | None = None


class DoneIn(Body):
    """Done for the year of ``done_on`` (default today)."""

    note: Text(2000) | None = None
    done_on: Day | None = None


class RosterQuery(Query):
    year: Annotated[int | None, Field(ge=2000, le=2100, description="default: this year")] = None
    month: Annotated[Month | None, Field(description="obligations due by this month")] = None
    kind: Kind | None = None


class RosterRow(BaseModel):
    id: int
    household_id: int
    household: str
    building: str
    flat_no: str
    member: str | None
    kind: str
    kind_label: str
    due_month: int
    at_home: bool
    note: str | None
    year: int
    state: Literal["done", "overdue", "due", "upcoming"]
    done_at: dt.datetime | None
    done_note: str | None


class Roster(BaseModel):
    rows: list[RosterRow]


class ObligationOut(BaseModel):
    id: int
    household_id: int
    kind: str
    due_month: int


class DoneOut(BaseModel):
    obligation_id: int
    year: int
    done_at: dt.datetime


@bp.get("/roster")
@endpoint(query=RosterQuery, response=Roster, permission=READ)
def roster(query: RosterQuery):
    """The roster (网格员名册): yearly obligations of the households you keep and their state this year."""
    rows = rosters.roster(current_user, query.year, query.month, query.kind)
    return json_response({"rows": rows})


@bp.post("/households/<int:household_id>/obligations")
@endpoint(body=ObligationIn, response=ObligationOut, status=201, permission=READ, errors=(404,))
def add_obligation(household_id: int, body: ObligationIn):
    """Add a yearly obligation to a household you keep."""
    o = rosters.add_obligation(current_user, household_id, body.model_dump())
    return json_response({"id": o.id, "household_id": o.household_id, "kind": o.kind, "due_month": o.due_month}, 201)


@bp.post("/obligations/<int:obligation_id>/done")
@endpoint(body=DoneIn, response=DoneOut, status=201, permission=READ, errors=(404, 409))
def mark_done(obligation_id: int, body: DoneIn):
    """Mark an obligation done for the year (409 if that year is done already)."""
    d = rosters.mark_done(current_user, obligation_id, body.note, body.done_on)
    return json_response({"obligation_id": d.obligation_id, "year": d.year, "done_at": d.done_at.isoformat()}, 201)
