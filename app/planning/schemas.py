"""What the planning API takes and answers: surveys, charger plans, bike-zone suggestions."""

from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from app.planning.models import HAZARDS
from app.web.params import AreaCode, Body, Id, Query
from app.web.values import Day, Text

Count = Annotated[int, Field(ge=0, le=500)]


class SurveyIn(Body):
    """One visit's e-bike survey of a building (``household_id``: one household of it instead).

    The four ``charge_*`` counts say where the e-bikes charge today; together at most ``ebikes``.
    A ticked hazard reports an incident of its category (飞线充电 / 入户充电) in the same transaction.
    """

    building_id: Id
    household_id: Id | None = None
    surveyed_on: Day | None = Field(None, description="default today (Asia/Shanghai); not in the future")
    ebikes: Count = Field(description="e-bikes kept by the building's (or household's) residents")
    charge_flat: Count = 0
    charge_stairwell: Count = 0
    charge_window_cable: Count = 0
    charge_charger: Count = 0
    hazards: list[Literal[tuple(HAZARDS)]] = Field(default_factory=list, max_length=len(HAZARDS))
    note: Text(2000) | None = None
    surveyor_name: Text(64) | None = Field(None, description="default the user's display name")

    @model_validator(mode="after")
    def _places_add_up(self):
        placed = self.charge_flat + self.charge_stairwell + self.charge_window_cable + self.charge_charger
        if placed > self.ebikes:
            raise ValueError(f"the charging places count {placed} e-bikes, more than the {self.ebikes} surveyed")
        if len(set(self.hazards)) != len(self.hazards):
            raise ValueError("a hazard is listed twice")
        return self


class SurveyOut(BaseModel):
    id: int
    building_id: int
    building: str | None
    household_id: int | None = Field(None, description="only for readers of household files")
    surveyed_on: str
    surveyor_name: str | None
    ebikes: int
    charging: dict[str, int]
    hazards: list[str]
    note: str | None
    has_photo: bool
    incident_ids: list[int]


class SurveyQuery(Query):
    area: AreaCode | None = None
    building_id: Id | None = None
    limit: Annotated[int, Field(ge=1, le=1000)] = 200


class DemandQuery(Query):
    area: AreaCode


class Site(Body):
    """A candidate site the planner drew (``ports``: its planned charging ports)."""

    lon: Annotated[float, Field(ge=-180, le=180)]
    lat: Annotated[float, Field(ge=-90, le=90)]
    ports: Annotated[int, Field(ge=1, le=200)] = 10
    name: Text(128) | None = None


class PlanIn(Body):
    """A charger siting run: ``new_sites`` new chargers within ``radius_m`` of as many e-bikes as possible."""

    name: Text(120, 1)
    area: AreaCode = Field(description="the community (solved at once) or street (a background job)")
    new_sites: Annotated[int, Field(ge=1, le=100)] = 3
    radius_m: Annotated[float, Field(gt=0, le=2000)] = 150
    candidates: Literal["generated", "drawn", "both"] = "generated"
    sites: list[Site] = Field(default_factory=list, max_length=500)
    bikes_per_port: Annotated[int, Field(ge=1, le=20)] = 3

    @model_validator(mode="after")
    def _drawn_sites_given(self):
        if self.candidates in ("drawn", "both") and not self.sites:
            raise ValueError("draw at least one candidate site, or let the sites be generated")
        return self


class PlanOut(BaseModel):
    id: int
    name: str
    area: str
    status: Literal["queued", "running", "done", "failed"]
    progress: dict
    params: dict
    result: dict | None
    error: str | None
    created_at: str
    chargers_made_at: str | None


class MadeOut(BaseModel):
    made: int
    charger_ids: list[int]


class ZoneQuery(Query):
    area: AreaCode
    eps_m: Annotated[float, Field(gt=0, le=500)] = 30
    min_points: Annotated[int, Field(ge=1, le=100)] = 3
    threshold_m: Annotated[float, Field(ge=0, le=2000)] = 100
    days: Annotated[int, Field(ge=1, le=730)] = 180


class ZoneIn(Body):
    """Make a planned bike zone from a suggestion (the same parameters that produced it)."""

    area: AreaCode
    cluster: Annotated[int, Field(ge=0)]
    eps_m: Annotated[float, Field(gt=0, le=500)] = 30
    min_points: Annotated[int, Field(ge=1, le=100)] = 3
    threshold_m: Annotated[float, Field(ge=0, le=2000)] = 100
    days: Annotated[int, Field(ge=1, le=730)] = 180
    name: Text(128) | None = None
