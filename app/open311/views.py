"""``/open311/v2/``: GeoReport v2 endpoints in ``.json`` and ``.xml``; errors as Open311 error arrays."""

import json

from flask import Blueprint, Response, request, url_for

from app.core.extensions import csrf, limiter
from app.open311 import keys, services, updates
from app.open311.discovery import discovery_document
from app.open311.errors import Open311Error
from app.open311.schemas import RequestForm, RequestsQuery, UpdateForm, UpdatesQuery, form_attributes, parse
from app.open311.xmlfmt import to_xml
from app.web.errors import register_formatter

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")
FMT = "<any(json, xml):fmt>"


def respond(value, fmt: str, root: str = "service_requests", status: int = 200) -> Response:
    """JSON or XML, UTF-8."""
    if fmt == "xml":
        return Response(to_xml(root, value), status=status, mimetype="text/xml", content_type="text/xml; charset=utf-8")
    return Response(json.dumps(value, ensure_ascii=False), status=status, mimetype="application/json")


def error_formatter(status: int, message: str, fields: dict):
    """Open311 error array ``[{"code": 400, "description": "..."}]`` (``<errors>`` in XML)."""
    fmt = "xml" if request.path.endswith(".xml") else "json"
    return respond([{"code": status, "description": message}], fmt, "errors", status)


@bp.get(f"/discovery.{FMT}")
def discovery(fmt):
    """Service discovery: where the endpoint is, its formats, and what it supports beyond GeoReport v2."""
    url = url_for("open311.services_index", fmt=fmt, _external=True).rsplit("/services", 1)[0]
    return respond(discovery_document(url), fmt, "discovery")


@bp.get(f"/services.{FMT}")
def services_index(fmt):
    """The service list (one per incident category)."""
    return respond(services.service_list(), fmt, "services")


@bp.get(f"/services/<code>.{FMT}")
def service_definition(code, fmt):
    """A service's attributes."""
    return respond(services.service_definition(code), fmt, "service_definition")


@bp.get(f"/requests.{FMT}")
def requests_index(fmt):
    """Requests: ``service_request_id`` (comma list), or ``service_code``, ``start_date``, ``end_date``,
    ``status`` (open/closed), ``page``/``page_size``. Default: the last 90 days, at most 1000."""
    q = parse(RequestsQuery, request.args)
    return respond(
        services.find_requests(
            ids=q.service_request_id,
            service_codes=q.service_code,
            start=q.start_date,
            end=q.end_date,
            statuses=q.status,
            page=q.page,
            page_size=q.page_size,
        ),
        fmt,
    )


@bp.get(f"/requests/<request_id>.{FMT}")
def request_item(request_id, fmt):
    """One request (the spec answers a one-element list)."""
    return respond([services.get_request(request_id)], fmt)


@bp.post(f"/requests.{FMT}")
def create_request(fmt):
    """Form-encoded POST from an Open311 client (``api_key`` required)."""
    form = request.form if request.form else request.values
    key = keys.key_for(form.get("api_key"))
    if key is None:
        raise Open311Error(403, "api_key is missing or not valid")
    fields = parse(RequestForm, form)
    return respond([services.post_request(key, **fields.model_dump(), attributes=form_attributes(form))], fmt)


@bp.get(f"/servicerequestupdates.{FMT}")
def updates_index(fmt):
    """mySociety's extension: the state changes of ``start_date``..``end_date`` (default: the last day)."""
    q = parse(UpdatesQuery, request.args)
    return respond(updates.list_updates(q.start_date, q.end_date, q.page, q.page_size), fmt, "service_request_updates")


@bp.post(f"/servicerequestupdates.{FMT}")
def create_update(fmt):
    """mySociety's extension: a client's update on a request it posted (``api_key`` required)."""
    form = request.form if request.form else request.values
    key = keys.key_for(form.get("api_key"))
    if key is None:
        raise Open311Error(403, "api_key is missing or not valid")
    return respond([updates.post_update(key, parse(UpdateForm, form))], fmt, "service_request_updates")


@bp.get(f"/tokens/<token>.{FMT}")
def token(token, fmt):
    """The request id behind a token."""
    return respond([services.request_for_token(token)], fmt)


def init_blueprint(app) -> None:
    """Register the blueprint, its error format and its rate limit."""
    csrf.exempt(bp)  # clients authenticate with api_key, not cookies
    limiter.limit("600 per minute")(bp)
    app.register_blueprint(bp)
    register_formatter("/open311/", error_formatter)
