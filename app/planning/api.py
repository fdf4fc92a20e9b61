"""``/api/v1``: e-bike surveys, demand per building, charger plans, bike-zone gaps."""

from typing import Annotated, Literal

from flask import Response, request, send_file, url_for
from pydantic import BaseModel, Field

from app.auth import policy
from app.core.errors import ApiError
from app.core.images import content_type_of
from app.planning import plans, results, survey_csv, surveys, zones
from app.planning.areas import area_in_reach
from app.planning.demand import area_demand, demand_summary
from app.planning.schemas import (
    DemandQuery,
    MadeOut,
    PlanIn,
    PlanOut,
    SurveyIn,
    SurveyOut,
    SurveyQuery,
    ZoneIn,
    ZoneQuery,
)
from app.web.api import ApiBlueprint, endpoint, json_response, parse_body
from app.web.params import Query
from app.web.tables import csv_response

bp = ApiBlueprint("planning_api", __name__, tag="planning")


class ImportQuery(Query):
    dry_run: bool = False


class ImportOut(BaseModel):
    rows: int
    imported: int
    dry_run: bool


class ExportQuery(Query):
    format: Literal["geojson", "csv"] = "geojson"


class GapsQuery(ZoneQuery):
    format: Literal["json", "geojson"] = "json"


class SurveyForm(BaseModel):
    """``multipart/form-data``: the fields of a survey (``hazards`` repeated) and a ``photo`` file."""

    photo: Annotated[bytes, Field(json_schema_extra={"format": "binary"})] | None = None


def _form_body() -> dict:
    data = {k: v for k, v in request.form.items() if k != "hazards" and v.strip() != ""}
    data["hazards"] = [h for h in request.form.getlist("hazards") if h]
    return data


@bp.get("/ebike-surveys")
@endpoint(query=SurveyQuery, response=list[SurveyOut], permission="planning.read", errors=(404,))
def survey_list(query: SurveyQuery):
    """E-bike surveys in the user's area, newest first."""
    u = policy.require_login()
    return json_response(surveys.list_surveys(u, query.area, query.building_id, query.limit))


@bp.post("/ebike-surveys")
@endpoint(response=SurveyOut, status=201, permission="planning.survey", errors=(400, 413, 415, 422), form=SurveyForm)
def survey_create():
    """Record an e-bike survey; each hazard ticked reports an incident in the same transaction.

    JSON (the ``SurveyIn`` schema), or ``multipart/form-data`` with the same fields and a ``photo``
    (JPEG, PNG or WebP; EXIF removed)."""
    u = policy.require_login()
    if (request.mimetype or "").startswith("multipart/form-data"):
        s = surveys.record_survey(u, parse_body(SurveyIn, _form_body()), request.files.get("photo"))
    else:
        s = surveys.record_survey(u, parse_body(SurveyIn))
    out = surveys.survey_out(u, s)
    return json_response(out, 201, {"Location": url_for("planning_api.survey_list", building_id=s.building_id)})


@bp.post("/ebike-surveys/import")
@endpoint(query=ImportQuery, response=ImportOut, permission="planning.survey", errors=(413, 422))
def survey_import(query: ImportQuery):
    """Surveys from a CSV file (``multipart/form-data``, field ``file``): all rows or none."""
    f = request.files.get("file")
    if f is None or not f.filename:
        raise ApiError(422, "send the CSV as the form field 'file'", {"file": "required"})
    return json_response(survey_csv.import_surveys(policy.require_login(), f.read(), query.dry_run))


@bp.get("/ebike-surveys/<int:survey_id>/photo")
@endpoint(permission="planning.read", errors=(404,), media_type="image/jpeg")
def survey_photo(survey_id: int):
    """The photo of a survey (re-encoded, without EXIF)."""
    path = surveys.photo_of(policy.require_login(), survey_id)
    return send_file(path, mimetype=content_type_of(str(path)), max_age=0)


@bp.get("/ebike-demand")
@endpoint(query=DemandQuery, permission="planning.read", errors=(404,))
def demand(query: DemandQuery):
    """E-bikes per building of an area: surveyed, or estimated from households (marked ``estimated``)."""
    area = area_in_reach(policy.current_scope(), query.area)
    rows, how = area_demand(area)
    feats = [
        {
            "type": "Feature",
            "id": d.building_id,
            "geometry": {"type": "Point", "coordinates": [d.lon, d.lat]},
            "properties": {"name": d.name, "ebikes": d.ebikes, "estimated": d.estimated, "hazards": d.hazards},
        }
        for d in rows
    ]
    return json_response(
        {"type": "FeatureCollection", "features": feats, "summary": demand_summary(rows), "estimate": how}
    )


@bp.post("/charger-plans")
@endpoint(
    body=PlanIn, response=PlanOut, status=201, permission="planning.plan", errors=(404, 409, 422), also={202: PlanOut}
)
def plan_create(body: PlanIn):
    """Solve and save a named charger plan: 201 solved (a community), 202 queued (a street: follow its progress)."""
    plan = plans.create_plan(policy.require_login(), body)
    status = 201 if plan.status in ("done", "failed") else 202
    return json_response(plans.plan_dict(plan), status, {"Location": url_for("planning_api.plan_get", plan_id=plan.id)})


@bp.get("/charger-plans")
@endpoint(response=list[PlanOut], permission="planning.read")
def plan_list():
    """Saved charger plans in the user's area, newest first."""
    return json_response([plans.plan_dict(p) for p in plans.list_plans(policy.require_login())])


@bp.get("/charger-plans/<int:plan_id>")
@endpoint(response=PlanOut, permission="planning.read", errors=(404,))
def plan_get(plan_id: int):
    """One plan: its status and progress while it is solved, its result after."""
    return json_response(plans.plan_dict(plans.get_plan(policy.require_login(), plan_id)))


@bp.get("/charger-plans/<int:plan_id>/export")
@endpoint(query=ExportQuery, permission="planning.read", errors=(404,), media_type="application/geo+json")
def plan_export(plan_id: int, query: ExportQuery):
    """The plan's sites (and uncovered buildings) as GeoJSON, or its ranked sites as CSV."""
    plan = plans.plan_dict(plans.get_plan(policy.require_login(), plan_id))
    name = f"charger-plan-{plan_id}"
    if query.format == "csv":
        return csv_response(list(results.SITE_COLUMNS), results.plan_rows(plan), f"{name}.csv")
    return Response(
        results.plan_geojson(plan),
        mimetype="application/geo+json",
        headers={"Content-Disposition": f'attachment; filename="{name}.geojson"'},
    )


@bp.post("/charger-plans/<int:plan_id>/chargers")
@endpoint(response=MadeOut, status=201, permission="planning.plan", errors=(403, 404, 409))
def plan_make_chargers(plan_id: int):
    """Make the plan's new sites chargers with status ``planned`` (once per plan)."""
    ids = plans.make_chargers(policy.require_login(), plan_id)
    return json_response({"made": len(ids), "charger_ids": ids}, 201)


@bp.get("/bike-zone-gaps")
@endpoint(query=GapsQuery, permission="planning.read", errors=(404,))
def bike_zone_gaps(query: GapsQuery):
    """Suggested bike zones where bad parking clusters far from zones, and zones over capacity."""
    params = query.model_dump(include={"eps_m", "min_points", "threshold_m", "days"})
    result = zones.zone_gaps(policy.require_login(), query.area, **params)
    if query.format == "geojson":
        return Response(
            zones.gaps_geojson(result),
            mimetype="application/geo+json",
            headers={"Content-Disposition": 'attachment; filename="bike-zone-gaps.geojson"'},
        )
    return json_response(result)


@bp.post("/bike-zone-gaps/zones")
@endpoint(body=ZoneIn, status=201, permission="planning.plan", errors=(403, 404, 422))
def bike_zone_make(body: ZoneIn):
    """Make a suggested zone a bike zone with status ``planned``."""
    params = body.model_dump(exclude={"area", "cluster", "name"})
    feature = zones.make_zone(policy.require_login(), body.area, body.cluster, body.name, **params)
    return json_response(feature, 201)
