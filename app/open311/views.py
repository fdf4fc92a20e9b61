"""``/open311/v2/``: GeoReport v2 endpoints in ``.json`` and ``.xml``; errors as Open311 error arrays."""
import json

from flask import Blueprint, Response, request, url_for

from app.core.extensions import csrf, limiter
from app.open311 import services
from app.open311.services import Open311Error
from app.open311.xmlfmt import to_xml

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")
FMT = "<any(json, xml):fmt>"
CHANGESET = "2026-11-25T00:00:00+08:00"


def respond(value, fmt: str, root: str = "service_requests", status: int = 200) -> Response:
    """JSON or XML, UTF-8."""
    if fmt == "xml":
        return Response(to_xml(root, value), status=status, mimetype="text/xml", content_type="text/xml; charset=utf-8")
    return Response(json.dumps(value, ensure_ascii=False), status=status, mimetype="application/json")


def error_formatter(status: int, message: str, fields: dict):
    """Open311 error array ``[{"code": 400, "description": "..."}]`` (``<errors>`` in XML)."""
    fmt = "xml" if request.path.endswith(".xml") else "json"
    return respond([{"code": status, "description": message}], fmt, "errors", status)


def _int(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.values.get(name)
    if raw in (None, ""):
        return default
    if not raw.isdigit() or not lo <= int(raw) <= hi:
        raise Open311Error(400, f"{name} must be an integer from {lo} to {hi}")
    return int(raw)


@bp.get(f"/discovery.{FMT}")
def discovery(fmt):
    """Service discovery: where the GeoReport v2 endpoint is and which formats it speaks."""
    return respond({"changeset": CHANGESET, "contact": "五微 Wuwei — 街道城管/网格中心",
                    "key_service": "API keys are issued by the Wuwei administrator",
                    "endpoints": [{"specification": "http://wiki.open311.org/GeoReport_v2",
                                   "url": url_for("open311.services_index", fmt=fmt, _external=True)
                                   .rsplit("/services", 1)[0],
                                   "changeset": CHANGESET, "type": "production",
                                   "formats": ["text/xml", "application/json"]}]}, fmt, "discovery")


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
    args = request.args
    ids = None
    if args.get("service_request_id"):
        raw = [p.strip() for p in args["service_request_id"].split(",") if p.strip()]
        if not raw or any(not p.isdigit() or len(p) > 18 for p in raw) or len(raw) > services.MAX_ROWS:
            raise Open311Error(400, "service_request_id must be a comma-separated list of ids")
        ids = [int(p) for p in raw]
    codes = [c.strip() for c in args.get("service_code", "").split(",") if c.strip()] or None
    statuses = [s.strip() for s in args.get("status", "").split(",") if s.strip()] or None
    if statuses and any(s not in ("open", "closed") for s in statuses):
        raise Open311Error(400, "status must be open or closed")
    start = services.parse_datetime("start_date", args["start_date"]) if args.get("start_date") else None
    end = services.parse_datetime("end_date", args["end_date"]) if args.get("end_date") else None
    if start and end and start > end:
        raise Open311Error(400, "start_date must not be after end_date")
    page = _int("page", 1, 1, 100000)
    page_size = _int("page_size", services.MAX_ROWS, 1, services.MAX_ROWS)
    return respond(services.find_requests(ids=ids, service_codes=codes, start=start, end=end, statuses=statuses,
                                          page=page, page_size=page_size), fmt)


@bp.get(f"/requests/<request_id>.{FMT}")
def request_item(request_id, fmt):
    """One request (the spec answers a one-element list)."""
    return respond([services.get_request(request_id)], fmt)


@bp.post(f"/requests.{FMT}")
def create_request(fmt):
    """Form-encoded POST from an Open311 client (``api_key`` required)."""
    form = request.form if request.form else request.values
    created = services.post_request(form, services.key_for(form.get("api_key")))
    return respond([created], fmt)


@bp.get(f"/tokens/<token>.{FMT}")
def token(token, fmt):
    """The request id behind a token."""
    return respond([services.request_for_token(token)], fmt)


def init_blueprint(app) -> None:
    """Register the blueprint, its error format and its rate limit."""
    from app.web.errors import register_formatter
    csrf.exempt(bp)  # clients authenticate with api_key, not cookies
    limiter.limit("600 per minute")(bp)
    app.register_blueprint(bp)
    register_formatter("/open311/", error_formatter)
