"""``/api/v1/incidents``: GeoJSON list (the map overlay), report, detail, transitions, photos, duplicates;
``/api/v1/incident-categories``: the category tree.

Declares and authorises; :mod:`app.incidents.services` holds the rules, :mod:`app.incidents.schemas`
and :mod:`app.incidents.answers` the declarations.
"""

import json

from flask import request, send_file, url_for
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from app.auth import policy
from app.core.errors import ApiError
from app.incidents import services
from app.incidents.answers import (
    Attached,
    CategoryNode,
    CategoryTree,
    Duplicates,
    IncidentCollection,
    IncidentFeature,
    PhotoStored,
)
from app.incidents.models import Incident, IncidentCategory
from app.incidents.schemas import (
    CategoryIn,
    CategoryPatch,
    CategoryQuery,
    DuplicateQuery,
    IncidentQuery,
    PhotoQuery,
    ReportIn,
    TransitionIn,
    category_values,
)
from app.web.api import GEOJSON, ApiBlueprint, endpoint, geojson_response, json_response
from app.web.etags import Versioned

bp = ApiBlueprint("incidents_api", __name__, tag="incidents")

# Versioned records (app.web.etags): ETag on their answers, If-Match → 412 on their writes.
INCIDENT = Versioned(
    "incidents",
    Incident.__table__,
    key="incident_id",
    visible=lambda: policy.grid_clause(policy.current_scope(), Incident.grid_id, Incident.geom),
    route=lambda: policy.routing_clause(Incident.street_code),
)
CATEGORY = Versioned("incident-categories", IncidentCategory.__table__, key="code", column="code")


def _feature(incident, with_personal: bool = False, status: int = 200):
    data = services.incident_dict(incident, current_user, with_personal=with_personal)
    return geojson_response(json.dumps(data, ensure_ascii=False, default=str), status)


def _links(query: IncidentQuery, returned: int) -> list[dict]:
    links = [{"rel": "self", "href": request.url, "type": GEOJSON}]
    if returned == query.limit:
        args = {**request.args.to_dict(), "offset": query.offset + query.limit}
        links.append(
            {"rel": "next", "type": GEOJSON, "href": url_for("incidents_api.incidents", _external=True, **args)}
        )
    return links


@bp.get("/incidents")
@endpoint(query=IncidentQuery, response=IncidentCollection)
def incidents(query: IncidentQuery):
    """Incidents in your area as a GeoJSON FeatureCollection (no personal data).

    Counting a million-row table costs more than a page: ``numberMatched`` only with ``count=true``.
    """
    scope, f = policy.current_scope(), query.filters(current_user.id)
    features, returned = services.feature_collection(scope, f, query.limit, query.offset)
    head = {"type": "FeatureCollection", "numberReturned": returned}
    if query.count:
        matched, more = services.count_incidents(scope, f)
        head["numberMatched"] = matched if not more else None
        if more:
            head["numberMatchedAtLeast"] = matched
    head["links"] = _links(query, returned)
    return geojson_response(json.dumps(head, ensure_ascii=False)[:-1] + ',"features":' + features + "}")


@bp.post("/incidents")
@endpoint(body=ReportIn, response=IncidentFeature, status=201, permission="incidents.report", errors=(404, 409))
def report(body: ReportIn):
    """Report an incident (answer 201 with the incident), or attach a report to an open one (answer 200)."""
    scope = policy.current_scope()
    if body.attach_to is not None:
        incident = services.attach_report(body.attach_to, body.description, current_user, scope)
        return json_response(
            Attached(attached_to=incident.id, url=url_for("incidents_api.item", incident_id=incident.id))
        )
    incident = services.report_incident(
        category_code=body.category,
        description=body.description,
        lon=body.lon,
        lat=body.lat,
        geometry=body.geometry_dict(),
        address=body.address,
        source=body.source or services.default_source(current_user),
        reporter_name=body.reporter_name,
        reporter_phone=body.reporter_phone,
        attributes=body.attributes,
        user=current_user,
        scope=scope,
    )
    resp = _feature(incident, status=201)
    resp.headers["Location"] = url_for("incidents_api.item", incident_id=incident.id)
    return resp


@bp.get("/incidents/duplicates")
@endpoint(query=DuplicateQuery, response=Duplicates)
def duplicates(query: DuplicateQuery):
    """Open incidents of a category near a point, to attach to instead of reporting again."""
    category = services.category_by_code(query.category)
    if category is None:
        raise ApiError(400, "category: unknown category code", {"category": "unknown"})
    found = services.suggest_duplicates(
        policy.current_scope(), category.id, query.lon, query.lat, query.radius, query.days
    )
    return json_response({"radius_m": query.radius, "days": query.days, "incidents": found})


@bp.get("/incidents/<int:incident_id>")
@endpoint(response=IncidentFeature, errors=(404,), versioned=INCIDENT)
def item(incident_id: int):
    """One incident with its timeline and photos; reporter contact only for roles that read personal data."""
    return _feature(services.get_incident(incident_id, policy.current_scope()), with_personal=True)


@bp.post("/incidents/<int:incident_id>/transitions")
@endpoint(body=TransitionIn, response=IncidentFeature, errors=(403, 404, 409), versioned=INCIDENT)
def transitions(incident_id: int, body: TransitionIn):
    """Move an incident through the workflow; 409 when the step does not follow, 403 without its permission.

    Each step needs a permission of its own (``app.incidents.workflow``): ``incidents.triage`` to file,
    dispatch, reject or close, ``incidents.handle`` to take on and respond, ``incidents.review`` to evaluate.
    """
    incident = services.transition(
        incident_id,
        body.to,
        current_user,
        policy.current_scope(),
        note=body.note,
        data=body.data(),
        photo_ids=body.photo_ids,
    )
    return _feature(incident)


def _upload():
    """The multipart file field ``photo``: 415 for another body, 400 when unreadable, 422 when missing."""
    try:
        upload = request.files.get("photo")
    except RequestEntityTooLarge:
        raise
    except Exception:  # noqa: BLE001 (werkzeug raises several kinds for a truncated or malformed multipart body)
        raise ApiError(400, "malformed multipart upload", {"photo": "unreadable"}) from None
    if upload is None:
        if request.mimetype != "multipart/form-data":
            raise ApiError(415, "send multipart/form-data with a file field 'photo'", {"photo": "required"})
        if not request.files and not request.form:
            raise ApiError(400, "malformed or empty multipart body", {"photo": "unreadable"})
        raise ApiError(422, "photo: required (a file field named 'photo')", {"photo": "required"})
    return upload


@bp.post("/incidents/<int:incident_id>/photos")
@endpoint(response=PhotoStored, status=201, errors=(400, 404, 409, 413, 415, 422, 507))
def upload_photo(incident_id: int):
    """Add a photo: multipart/form-data with a file field ``photo`` (JPEG, PNG or WebP, checked by content)."""
    photo = services.add_photo(incident_id, _upload().read(), current_user, policy.current_scope())
    url = url_for("incidents_api.photo", incident_id=incident_id, photo_id=photo.id)
    return json_response(
        {
            "id": photo.id,
            "url": url,
            "thumbnail": f"{url}?size=thumb",
            "width": photo.width,
            "height": photo.height,
            "content_type": photo.content_type,
        },
        201,
    )


@bp.get("/incidents/<int:incident_id>/photos/<int:photo_id>")
@endpoint(query=PhotoQuery, errors=(404,))
def photo(incident_id: int, photo_id: int, query: PhotoQuery):
    """A photo of an incident in your area (``size=thumb``: its thumbnail); an image, not JSON."""
    path, ctype = services.photo_file(incident_id, photo_id, policy.current_scope(), query.size == "thumb")
    resp = send_file(path, mimetype=ctype, max_age=3600)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


def _category(c) -> dict:
    return {
        "code": c.code,
        "name": c.name,
        "name_en": c.name_en,
        "parent": c.parent.code if c.parent else None,
        "department_id": c.department_id,
        "department": c.department,
        "deadlines": c.deadlines,
        "attributes": c.attributes,
        "active": c.active,
    }


@bp.get("/incident-categories")
@endpoint(query=CategoryQuery, response=CategoryTree)
def category_list(query: CategoryQuery):
    """The category tree with departments and stage deadlines (hours); ``all=true`` adds inactive ones."""
    return json_response(
        {
            "categories": [_category(c) for c in services.categories(active_only=not query.all)],
            "departments": [{"id": d.id, "code": d.code, "name": d.name} for d in services.departments()],
        }
    )


@bp.post("/incident-categories")
@endpoint(body=CategoryIn, response=CategoryNode, status=201, permission="incidents.categories", errors=(409,))
def category_create(body: CategoryIn):
    """Add a category to the tree."""
    return json_response(_category(services.create_category(category_values(body))), 201)


@bp.patch("/incident-categories/<code>")
@endpoint(
    body=CategoryPatch, response=CategoryNode, permission="incidents.categories", errors=(404,), versioned=CATEGORY
)
def category_update(code: str, body: CategoryPatch):
    """Change a category: deadlines, department, names, parent, attributes, active (codes never change)."""
    return json_response(_category(services.update_category(code, category_values(body))))
