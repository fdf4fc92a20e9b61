"""The e-bike survey (电动车入户摸排): recorded on a phone during a visit, through the API, or from a CSV.

A survey belongs to a building in the surveyor's area (and optionally one household of it, which the
surveyor must keep the file of). Each ticked hazard is reported as an incident of its category
(:data:`app.planning.models.HAZARDS`) through the incidents feature, in the survey's own transaction:
the survey and its incidents are stored together or not at all. A photo is checked and re-encoded
without EXIF (:func:`app.core.images.clean_image`) and written under ``MEDIA_ROOT/surveys``.
"""

import logging
import uuid
from pathlib import Path

from flask import current_app
from sqlalchemy import Float, cast, func, select

from app.audit.services import record, snapshot
from app.auth import policy
from app.basemap.models import Building
from app.core.errors import ApiError
from app.core.extensions import db
from app.core.images import clean_image
from app.core.media import write_files
from app.core.time import today
from app.households.files import household_in_reach
from app.incidents import services as incidents
from app.planning.areas import area_in_reach, inside
from app.planning.models import HAZARDS, EbikeSurvey
from app.planning.schemas import SurveyIn

log = logging.getLogger(__name__)

HAZARD_TEXT = {
    "stairwell_charging": "楼道内充电",
    "carried_upstairs": "电动车推上楼入户充电",
    "window_cable": "从窗户拉线飞线充电",
    "blocked_exit": "电动车堵塞楼道或安全出口",
}


def building_in_reach(scope, building_id: int):
    """(building, lon, lat of a point on it) when it lies in the user's area; 422 otherwise (a body field)."""
    pt = func.ST_PointOnSurface(Building.geom)
    row = db.session.execute(
        select(Building, cast(func.ST_X(pt), Float), cast(func.ST_Y(pt), Float)).where(
            Building.id == building_id, policy.grid_clause(scope, Building.grid_id, Building.geom)
        )
    ).first()
    if row is None:
        raise ApiError(422, f"no building {building_id} in your area", {"building_id": "unknown or outside your area"})
    return row


def _household(user, body: SurveyIn):
    if body.household_id is None:
        return None
    h = household_in_reach(user, body.household_id)
    if h is None or h.building_id != body.building_id:
        raise ApiError(
            422,
            f"household {body.household_id} is not a file you keep in building {body.building_id}",
            {"household_id": "not a household of this building among your files"},
        )
    return h


def _report_hazards(user, scope, building, lon, lat, body: SurveyIn) -> list[int]:
    """One incident per category among the ticked hazards, at the building (not committed)."""
    by_category: dict[str, list[str]] = {}
    for hazard in body.hazards:
        by_category.setdefault(HAZARDS[hazard], []).append(HAZARD_TEXT[hazard])
    ids = []
    place = building.address or building.name or f"#{building.id}"
    for category, texts in by_category.items():
        description = f"电动车入户摸排发现隐患：{'、'.join(texts)}（{place}）"
        if body.note:
            description += f"。{body.note}"
        incident = incidents.report_incident(
            category_code=category,
            description=description[: incidents.MAX_DESCRIPTION],
            lon=lon,
            lat=lat,
            address=(building.address or building.name),
            source=incidents.default_source(user),
            user=user,
            scope=scope,
            commit=False,
        )
        ids.append(incident.id)
    return ids


def _photo(storage) -> tuple[str | None, dict]:
    if storage is None or not getattr(storage, "filename", ""):
        return None, {}
    image = clean_image(storage.read(), "photo", max_side=2048)
    rel = f"surveys/{uuid.uuid4().hex}{image.extension}"
    return rel, {Path(current_app.config["MEDIA_ROOT"]) / rel: image.data}


def record_survey(user, body: SurveyIn, photo=None, commit: bool = True) -> EbikeSurvey:
    """Store a survey and report its hazards as incidents, in one transaction."""
    scope = policy.scope_of(user)
    building, lon, lat = building_in_reach(scope, body.building_id)
    household = _household(user, body)
    day = body.surveyed_on or today()
    if day > today():
        raise ApiError(422, "the survey date lies in the future", {"surveyed_on": "in the future"})
    rel, files = _photo(photo)
    survey = EbikeSurvey(
        building_id=building.id,
        household_id=household.id if household else None,
        grid_id=building.grid_id,
        surveyed_on=day,
        surveyor_id=user.id,
        surveyor_name=body.surveyor_name or user.display_name,
        ebikes=body.ebikes,
        charge_flat=body.charge_flat,
        charge_stairwell=body.charge_stairwell,
        charge_window_cable=body.charge_window_cable,
        charge_charger=body.charge_charger,
        hazards=list(body.hazards),
        note=body.note,
        photo_path=rel,
    )
    try:
        survey.incident_ids = _report_hazards(user, scope, building, lon, lat, body)
        db.session.add(survey)
        db.session.flush()
        record("insert", "ebike_surveys", survey.id, after=snapshot(survey), user_id=user.id)
        write_files(files)
        if commit:
            db.session.commit()
    except Exception:
        db.session.rollback()
        for path in files:
            path.unlink(missing_ok=True)
        raise
    log.info(
        "survey %s of building %s: %s e-bikes, %s incidents",
        survey.id,
        building.id,
        body.ebikes,
        len(survey.incident_ids),
    )
    return survey


def survey_dict(s: EbikeSurvey, building_name: str | None, personal: bool) -> dict:
    """A survey as the API answers it (``household_id`` only for readers of household files)."""
    return {
        "id": s.id,
        "building_id": s.building_id,
        "building": building_name,
        "household_id": s.household_id if personal else None,
        "surveyed_on": s.surveyed_on.isoformat(),
        "surveyor_name": s.surveyor_name,
        "ebikes": s.ebikes,
        "charging": {
            "flat": s.charge_flat,
            "stairwell": s.charge_stairwell,
            "window_cable": s.charge_window_cable,
            "charger": s.charge_charger,
        },
        "hazards": list(s.hazards or []),
        "note": s.note,
        "has_photo": bool(s.photo_path),
        "incident_ids": list(s.incident_ids or []),
    }


def survey_out(user, s: EbikeSurvey) -> dict:
    """One survey as the API answers it to ``user``."""
    name = db.session.scalar(select(Building.name).where(Building.id == s.building_id))
    return survey_dict(s, name, policy.reads_personal(user))


def list_surveys(user, area_code: str | None, building_id: int | None, limit: int = 200) -> list[dict]:
    """Surveys in the user's area (or one area of it, or one building), newest first."""
    scope = policy.scope_of(user)
    stmt = (
        select(EbikeSurvey, Building.name)
        .join(Building, Building.id == EbikeSurvey.building_id)
        .where(policy.grid_clause(scope, Building.grid_id, Building.geom))
        .order_by(EbikeSurvey.surveyed_on.desc(), EbikeSurvey.id.desc())
        .limit(limit)
    )
    if area_code:
        stmt = stmt.where(inside(area_in_reach(scope, area_code), Building.grid_id, Building.geom))
    if building_id:
        stmt = stmt.where(EbikeSurvey.building_id == building_id)
    personal = policy.reads_personal(user)
    return [survey_dict(s, name, personal) for s, name in db.session.execute(stmt)]


def photo_of(user, survey_id: int) -> Path:
    """The photo file of a survey in the user's area; 404 otherwise."""
    scope = policy.scope_of(user)
    rel = db.session.scalar(
        select(EbikeSurvey.photo_path)
        .join(Building, Building.id == EbikeSurvey.building_id)
        .where(EbikeSurvey.id == survey_id, policy.grid_clause(scope, Building.grid_id, Building.geom))
    )
    path = Path(current_app.config["MEDIA_ROOT"]) / rel if rel else None
    if path is None or not path.is_file():
        raise ApiError(404, f"no photo of survey {survey_id}")
    return path


def buildings_to_survey(user, area_code: str | None = None, limit: int = 500) -> list[dict]:
    """Buildings of the user's area for the survey form's choice: name, address, last survey date."""
    scope = policy.scope_of(user)
    last = (
        select(EbikeSurvey.building_id, func.max(EbikeSurvey.surveyed_on).label("last"))
        .group_by(EbikeSurvey.building_id)
        .subquery()
    )
    stmt = (
        select(Building.id, Building.name, Building.address, Building.households, last.c.last)
        .outerjoin(last, last.c.building_id == Building.id)
        .where(policy.grid_clause(scope, Building.grid_id, Building.geom))
        .order_by(Building.name, Building.id)
        .limit(limit)
    )
    if area_code:
        stmt = stmt.where(inside(area_in_reach(scope, area_code), Building.grid_id, Building.geom))
    return [
        {
            "id": r.id,
            "name": r.name,
            "address": r.address,
            "households": r.households,
            "last_survey": r.last.isoformat() if r.last else None,
        }
        for r in db.session.execute(stmt)
    ]
