"""``/api/v1/incidents``: GeoJSON list (the map overlay), report, detail, transitions, photos, duplicates.

Parses and authorises; :mod:`app.incidents.services` holds the rules.
"""
import datetime as dt
import json

from flask import Blueprint, current_app, request, send_file, url_for
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from app.web.api import geojson_response, int_arg, json_body
from app.auth.access import current_scope, require_login, require_role
from app.auth.services import via_bearer
from app.core.errors import ApiError
from app.core.extensions import csrf
from app.incidents import photos, services
from app.incidents.models import SOURCES, STATES
from gis.geometry import GeometryError, parse_bbox

bp = Blueprint("incidents_api", __name__, url_prefix="/api/v1")
LIST_PARAMS = {"bbox", "limit", "offset", "sort", "state", "category", "grid", "source", "overdue", "open",
               "from", "to", "q", "_", "lang", "format", "count", "mine"}
REPORT_ROLES = ("admin", "staff", "grid_worker", "patrol", "planner", "leader")


@bp.before_request
def _protect():
    """Session-cookie writes need the CSRF token (header X-CSRFToken); bearer-token clients do not."""
    if request.method not in ("GET", "HEAD", "OPTIONS") and not via_bearer() \
            and current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()


def _bool(name: str, raw: str) -> bool:
    if raw in ("true", "1", "yes"):
        return True
    if raw in ("false", "0", "no"):
        return False
    raise ApiError(400, f"{name} must be true or false", {name: "not a boolean"})


def _date(name: str, raw: str) -> dt.datetime:
    try:
        if len(raw) == 10:
            d = dt.date.fromisoformat(raw)
            value = dt.datetime(d.year, d.month, d.day, tzinfo=dt.timezone(dt.timedelta(hours=8)))
            return value + dt.timedelta(days=1) if name == "to" else value
        value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"{name} must be a date YYYY-MM-DD or an ISO 8601 date-time", {name: "not a date"}) from None
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))


def parse_filters(args) -> dict:
    """List filters from a query string (shared by the API, the list page and the CSV export); 400 when bad."""
    unknown = set(args) - LIST_PARAMS
    if unknown:
        raise ApiError(400, f"unknown parameter(s): {', '.join(sorted(unknown))}; "
                            f"use {', '.join(sorted(LIST_PARAMS - {'_', 'lang'}))}",
                       {n: "unknown parameter" for n in unknown})
    f: dict = {}
    for name, choices in (("state", STATES), ("source", SOURCES)):
        raw = args.get(name)
        if raw:
            values = raw.split(",")
            bad = [v for v in values if v not in choices]
            if bad:
                raise ApiError(400, f"{name} must be one of {', '.join(choices)}", {name: f"unknown: {', '.join(bad)}"})
            f[name] = values
    if args.get("category"):
        values = args["category"].split(",")
        if any(len(v) > 64 for v in values):
            raise ApiError(400, "category codes are at most 64 characters", {"category": "too long"})
        f["category"] = values
    if args.get("grid"):
        if not args["grid"].isdigit() or len(args["grid"]) > 18:
            raise ApiError(400, "grid must be an area code (digits)", {"grid": "malformed code"})
        f["grid"] = args["grid"]
    for name in ("overdue", "open"):
        if args.get(name):
            f[name] = _bool(name, args[name])
    if args.get("mine") and _bool("mine", args["mine"]):
        # Open incidents offered or dispatched to the current user: a grid worker's to-do list.
        f["mine"] = current_user.id
        f["open"] = True
    for name in ("from", "to"):
        if args.get(name):
            f[name] = _date(name, args[name])
    if f.get("from") and f.get("to") and f["from"] >= f["to"]:
        raise ApiError(400, "from must be before to", {"to": "before from"})
    try:
        f["bbox"] = parse_bbox(args.get("bbox"))
    except GeometryError as e:
        raise ApiError(400, str(e), {"bbox": str(e)}) from None
    q = args.get("q")
    if q:
        if len(q) > 100:
            raise ApiError(400, "q is at most 100 characters", {"q": "too long"})
        f["q"] = q
    sort = args.get("sort", "-reported_at")
    if sort.lstrip("-") not in services.SORTS:
        raise ApiError(400, f"sort must be one of {', '.join(services.SORTS)} (prefix - for descending)",
                       {"sort": "unknown"})
    f["sort"] = sort
    return f


@bp.get("/incidents")
def incidents():
    """Incidents in the user's area as a GeoJSON FeatureCollection (no personal data)."""
    require_login()
    f = parse_filters(request.args)
    limit = int_arg("limit", 500, 1, services.MAX_LIMIT)
    offset = int_arg("offset", 0, 0, 10_000_000)
    scope = current_scope()
    features, returned = services.feature_collection(scope, f, limit, offset, f["sort"])
    head = {"type": "FeatureCollection", "numberReturned": returned}
    # Counting a million-row table per page costs more than the page: only on request (?count=true).
    if request.args.get("count") in ("1", "true"):
        matched, more = services.count_incidents(scope, f)
        head["numberMatched"] = matched if not more else None
        if more:
            head["numberMatchedAtLeast"] = matched
    links = [{"rel": "self", "href": request.url, "type": "application/geo+json"}]
    if returned == limit:
        args = {**request.args.to_dict(), "offset": offset + limit}
        links.append({"rel": "next", "type": "application/geo+json",
                      "href": url_for("incidents_api.incidents", _external=True, **args)})
    head["links"] = links
    return geojson_response(json.dumps(head, ensure_ascii=False)[:-1] + ',"features":' + features + "}")


def _number(body: dict, name: str):
    v = body.get(name)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return v
    return float(v)


@bp.post("/incidents")
def report():
    """Report an incident: JSON ``{category, description, lon, lat | geometry, address, source, reporter_*}``.

    With ``attach_to`` (an open incident id), the report is added to that incident's timeline instead.
    """
    require_role(*REPORT_ROLES)
    body = json_body()
    if isinstance(body, dict) and body.get("type") == "Feature":
        props = body.get("properties") if isinstance(body.get("properties"), dict) else {}
        body = {**props, "geometry": body.get("geometry")}
    if not isinstance(body, dict):
        raise ApiError(422, "send a JSON object", {"body": "not an object"})
    if body.get("attach_to") is not None:
        target = body["attach_to"]
        if isinstance(target, bool) or not isinstance(target, int):
            raise ApiError(422, "attach_to must be an incident id", {"attach_to": "not an id"})
        incident = services.attach_report(target, body.get("description"), current_user, current_scope())
        return {"attached_to": incident.id, "url": url_for("incidents_api.item", incident_id=incident.id)}, 200
    default_source = {"grid_worker": "grid_worker", "patrol": "patrol"}.get(current_user.role, "web")
    incident = services.report_incident(
        category_code=body.get("category"), description=body.get("description"),
        lon=_number(body, "lon"), lat=_number(body, "lat"), geometry=body.get("geometry"),
        address=body.get("address"), source=body.get("source") or default_source,
        reporter_name=body.get("reporter_name"), reporter_phone=body.get("reporter_phone"),
        attributes=body.get("attributes"), user=current_user, scope=current_scope())
    resp = geojson_response(json.dumps(services.incident_dict(incident, current_user, with_personal=False),
                                       ensure_ascii=False), 201)
    resp.headers["Location"] = url_for("incidents_api.item", incident_id=incident.id)
    return resp


@bp.get("/incidents/duplicates")
def duplicates():
    """Open incidents of a category near a point: ``?category=&lon=&lat=[&radius=&days=]``."""
    require_login()
    category = services.category_by_code(request.args.get("category", ""))
    if category is None:
        raise ApiError(400, "category: unknown category code", {"category": "unknown"})
    try:
        lon, lat = float(request.args["lon"]), float(request.args["lat"])
    except (KeyError, ValueError):
        raise ApiError(400, "lon and lat are required numbers", {"lon": "required", "lat": "required"}) from None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise ApiError(400, "lon/lat out of range", {"lat": "out of range"})
    radius = int_arg("radius", services.DUPLICATE_RADIUS_M, 1, 5000)
    days = int_arg("days", services.DUPLICATE_DAYS, 1, 365)
    return {"radius_m": radius, "days": days,
            "incidents": services.suggest_duplicates(current_scope(), category.id, lon, lat, radius, days)}


@bp.get("/incidents/<int:incident_id>")
def item(incident_id: int):
    """One incident with its timeline and photos; reporter contact only for the roles allowed to see it."""
    require_login()
    incident = services.get_incident(incident_id, current_scope())
    return geojson_response(json.dumps(services.incident_dict(incident, current_user), ensure_ascii=False,
                                       default=str))


@bp.post("/incidents/<int:incident_id>/transitions")
def transitions(incident_id: int):
    """Move an incident: ``{"to": state, "note": ..., "department_id"|"assignee_id"|... }``; 409 if not allowed."""
    require_login()
    body = json_body()
    if not isinstance(body, dict):
        raise ApiError(422, "send a JSON object", {"body": "not an object"})
    if "to" not in body:
        raise ApiError(422, "to: required (the next state)", {"to": "required"})
    photo_ids = body.get("photo_ids") or []
    if not isinstance(photo_ids, list) or not all(isinstance(p, int) and not isinstance(p, bool) for p in photo_ids):
        raise ApiError(422, "photo_ids must be a list of photo ids", {"photo_ids": "not a list of ids"})
    data = {k: v for k, v in body.items() if k not in ("to", "note", "photo_ids")}
    incident = services.transition(incident_id, body["to"], current_user, current_scope(), note=body.get("note"),
                                   data=data, photo_ids=photo_ids)
    return geojson_response(json.dumps(services.incident_dict(incident, current_user, with_personal=False),
                                       ensure_ascii=False, default=str))


@bp.post("/incidents/<int:incident_id>/photos")
def upload_photo(incident_id: int):
    """Add a photo (multipart field ``photo``); JPEG/PNG/WebP checked by content; 413 above the upload limit."""
    require_login()
    try:
        upload = request.files.get("photo")
    except RequestEntityTooLarge:
        raise
    except Exception:  # a truncated or malformed multipart body
        raise ApiError(400, "malformed multipart upload", {"photo": "unreadable"}) from None
    if upload is None:
        if request.mimetype != "multipart/form-data":
            raise ApiError(415, "send multipart/form-data with a file field 'photo'", {"photo": "required"})
        if not request.files and not request.form:
            raise ApiError(400, "malformed or empty multipart body", {"photo": "unreadable"})
        raise ApiError(422, "photo: required (a file field named 'photo')", {"photo": "required"})
    photo = photos.add_photo(incident_id, upload.read(), current_user, current_scope())
    return {"id": photo.id, "url": url_for("incidents_api.photo", incident_id=incident_id, photo_id=photo.id),
            "thumbnail": url_for("incidents_api.photo", incident_id=incident_id, photo_id=photo.id, size="thumb"),
            "width": photo.width, "height": photo.height, "content_type": photo.content_type}, 201


@bp.get("/incidents/<int:incident_id>/photos/<int:photo_id>")
def photo(incident_id: int, photo_id: int):
    """A photo (``?size=thumb`` for the thumbnail)."""
    require_login()
    path, ctype = photos.photo_file(incident_id, photo_id, current_scope(), request.args.get("size") == "thumb")
    resp = send_file(path, mimetype=ctype, max_age=3600)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


def _category_json(c) -> dict:
    return {"code": c.code, "name": c.name, "name_en": c.name_en, "parent": c.parent.code if c.parent else None,
            "department_id": c.department_id, "department": c.department, "deadlines": c.deadlines,
            "attributes": c.attributes, "active": c.active}


@bp.get("/incident-categories")
def category_list():
    """The category tree with departments and stage deadlines (hours); ``?all=true`` adds inactive ones."""
    require_login()
    return {"categories": [_category_json(c) for c in services.categories(request.args.get("all") != "true")],
            "departments": [{"id": d.id, "code": d.code, "name": d.name} for d in services.departments()]}


@bp.post("/incident-categories")
def category_create():
    """Admin: add a category ``{code, name, name_en, parent, department_id, deadlines, attributes}``."""
    require_role("admin")
    body = json_body()
    if not isinstance(body, dict):
        raise ApiError(422, "send a JSON object", {"body": "not an object"})
    return _category_json(services.create_category(body)), 201


@bp.patch("/incident-categories/<code>")
def category_update(code: str):
    """Admin: change a category (deadlines, department, names, parent, attributes, active)."""
    require_role("admin")
    body = json_body()
    if not isinstance(body, dict):
        raise ApiError(422, "send a JSON object", {"body": "not an object"})
    return _category_json(services.update_category(code, body))


@bp.get("/open311-keys")
def open311_keys():
    """Admin: the Open311 API keys (prefix only; keys are shown once, when created)."""
    require_role("admin")
    from app.open311.services import list_keys
    return {"keys": [{"id": k.id, "name": k.name, "prefix": k.prefix, "source": k.source,
                      "created_at": k.created_at.isoformat(), "revoked": k.revoked} for k in list_keys()]}


@bp.post("/open311-keys")
def open311_key_create():
    """Admin: issue a key ``{name, source}``; the answer holds the key, once."""
    require_role("admin")
    body = json_body()
    if not isinstance(body, dict):
        raise ApiError(422, "send a JSON object", {"body": "not an object"})
    name, source = body.get("name"), body.get("source", "open311")
    errors = {}
    if not isinstance(name, str) or not name.strip() or len(name) > 128:
        errors["name"] = "required, at most 128 characters"
    if source not in ("open311", "hotline", "other_system", "web"):
        errors["source"] = "one of open311, hotline, other_system, web"
    if errors:
        raise ApiError(422, "; ".join(f"{k}: {v}" for k, v in errors.items()), errors)
    from app.open311.services import create_key
    row, key = create_key(name.strip(), source=source)
    return {"id": row.id, "name": row.name, "prefix": row.prefix, "source": row.source, "api_key": key}, 201


@bp.delete("/open311-keys/<int:key_id>")
def open311_key_revoke(key_id: int):
    """Admin: revoke a key."""
    require_role("admin")
    from app.open311.services import revoke_key_id
    revoke_key_id(key_id)
    return "", 204


ERROR = {"$ref": "#/components/responses/Error"}
_P = lambda n, d, s=None, w="query": {"name": n, "in": w, "required": w == "path", "description": d,  # noqa: E731
                                      "schema": s or {"type": "string"}}
OPENAPI_PATHS = {
    "/api/v1/incidents": {
        "get": {"summary": "incidents in your area (GeoJSON, no personal data)", "tags": ["incidents"],
                "parameters": [_P("bbox", "minLon,minLat,maxLon,maxLat"),
                               _P("limit", "1..10000, default 500", {"type": "integer"}),
                               _P("offset", "paging offset", {"type": "integer"}),
                               _P("state", "comma-separated states", {"type": "string"}),
                               _P("category", "category codes (subtree)"), _P("grid", "area code prefix"),
                               _P("source", "comma-separated sources"), _P("overdue", "true/false"),
                               _P("open", "true: only open states"),
                               _P("mine", "true: open incidents offered or dispatched to me"), _P("from", "reported on/after (date)"),
                               _P("to", "reported up to (date, inclusive)"), _P("q", "text in the description"),
                               _P("sort", "reported_at, id, state, state_changed_at; prefix - for descending")],
                "responses": {"200": {"description": "FeatureCollection", "content": {"application/geo+json": {}}},
                              "400": ERROR, "401": ERROR}},
        "post": {"summary": "report an incident", "tags": ["incidents"],
                 "requestBody": {"required": True, "content": {"application/json": {"schema": {
                     "type": "object", "required": ["category", "description"],
                     "properties": {"category": {"type": "string"}, "description": {"type": "string", "maxLength": 4000},
                                    "lon": {"type": "number"}, "lat": {"type": "number"},
                                    "geometry": {"type": "object"}, "address": {"type": "string"},
                                    "source": {"type": "string", "enum": list(SOURCES)},
                                    "reporter_name": {"type": "string"}, "reporter_phone": {"type": "string"},
                                    "attributes": {"type": "object"}, "attach_to": {"type": "integer"}}}}}},
                 "responses": {"201": {"description": "created"}, "200": {"description": "attached to an open incident"},
                               "401": ERROR, "403": ERROR, "409": ERROR, "415": ERROR, "422": ERROR}}},
    "/api/v1/incidents/duplicates": {"get": {
        "summary": "open incidents of the same category nearby", "tags": ["incidents"],
        "parameters": [_P("category", "category code"), _P("lon", "", {"type": "number"}),
                       _P("lat", "", {"type": "number"}), _P("radius", "metres, default 100", {"type": "integer"}),
                       _P("days", "default 30", {"type": "integer"})],
        "responses": {"200": {"description": "candidates"}, "400": ERROR, "401": ERROR}}},
    "/api/v1/incidents/{id}": {"get": {
        "summary": "one incident with timeline, photos and (for allowed roles) reporter contact",
        "tags": ["incidents"], "parameters": [_P("id", "incident id", {"type": "integer"}, "path")],
        "responses": {"200": {"description": "Feature"}, "401": ERROR, "404": ERROR}}},
    "/api/v1/incidents/{id}/transitions": {"post": {
        "summary": "move an incident through the workflow", "tags": ["incidents"],
        "parameters": [_P("id", "incident id", {"type": "integer"}, "path")],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["to"],
            "properties": {"to": {"type": "string", "enum": list(STATES)}, "note": {"type": "string"},
                           "department_id": {"type": "integer"}, "assignee_id": {"type": "integer"},
                           "property_company_id": {"type": "integer"}, "duplicate_of": {"type": "integer"},
                           "meeting_id": {"type": "integer"}, "rating": {"type": "integer", "minimum": 1, "maximum": 5},
                           "photo_ids": {"type": "array", "items": {"type": "integer"}}}}}}},
        "responses": {"200": {"description": "the incident after the step"}, "401": ERROR, "403": ERROR,
                      "404": ERROR, "409": ERROR, "415": ERROR, "422": ERROR}}},
    "/api/v1/incidents/{id}/photos": {"post": {
        "summary": "add a photo (multipart field 'photo'; JPEG, PNG, WebP)", "tags": ["incidents"],
        "parameters": [_P("id", "incident id", {"type": "integer"}, "path")],
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
            "type": "object", "properties": {"photo": {"type": "string", "format": "binary"}}}}}},
        "responses": {"201": {"description": "stored"}, "400": ERROR, "401": ERROR, "404": ERROR, "413": ERROR,
                      "415": ERROR, "422": ERROR}}},
    "/api/v1/incidents/{id}/photos/{photo_id}": {"get": {
        "summary": "a photo or its thumbnail (?size=thumb)", "tags": ["incidents"],
        "parameters": [_P("id", "incident id", {"type": "integer"}, "path"),
                       _P("photo_id", "photo id", {"type": "integer"}, "path"), _P("size", "thumb")],
        "responses": {"200": {"description": "image"}, "401": ERROR, "404": ERROR}}},
    "/api/v1/incident-categories": {
        "get": {"summary": "category tree, departments, deadlines", "tags": ["incidents"],
                "parameters": [_P("all", "true: include inactive categories")],
                "responses": {"200": {"description": "categories"}, "401": ERROR}},
        "post": {"summary": "admin: add a category", "tags": ["incidents"],
                 "responses": {"201": {"description": "created"}, "403": ERROR, "409": ERROR, "422": ERROR}}},
    "/api/v1/incident-categories/{code}": {"patch": {
        "summary": "admin: change a category (deadlines, department, names, parent, attributes, active)",
        "tags": ["incidents"], "parameters": [_P("code", "category code", None, "path")],
        "responses": {"200": {"description": "changed"}, "403": ERROR, "404": ERROR, "422": ERROR}}},
    "/api/v1/open311-keys": {
        "get": {"summary": "admin: Open311 API keys (prefixes)", "tags": ["open311"],
                "responses": {"200": {"description": "keys"}, "403": ERROR}},
        "post": {"summary": "admin: issue an Open311 API key (returned once)", "tags": ["open311"],
                 "responses": {"201": {"description": "the key"}, "403": ERROR, "422": ERROR}}},
    "/api/v1/open311-keys/{id}": {"delete": {
        "summary": "admin: revoke an Open311 API key", "tags": ["open311"],
        "parameters": [_P("id", "key id", {"type": "integer"}, "path")],
        "responses": {"204": {"description": "revoked"}, "403": ERROR, "404": ERROR}}},
}
