"""The JSON API toolkit: blueprints, one declaration per endpoint, JSON in and out.

An endpoint says once what it takes, who may call it and what it answers::

    bp = ApiBlueprint("households_api", __name__, tag="households")

    @bp.post("/households/<int:household_id>/members")
    @endpoint(body=MemberIn, permission="personal.read", status=201)
    def member_create(household_id: int, body: MemberIn):
        \"\"\"Add a member to a household file.\"\"\"

From that declaration the request is checked, in this order, before the view runs:

1. **who**: a login (session or ``Authorization: Bearer``) unless ``public=True``, then ``permission``
   (:mod:`app.auth.policy`) — 401 / 403;
2. **the query string** against ``query`` — 400 with the bad parameters in ``fields``; NUL characters
   anywhere in it — 400;
3. **the body**: JSON content type (415), well-formed JSON object without NUL characters or lone
   surrogates (400), then against ``body`` — 422 with the bad fields in ``fields``.

The same models describe the endpoint in ``/api/v1/openapi.json`` (:mod:`app.web.openapi`).
Cookie-session writes need the CSRF token (``X-CSRFToken``); bearer-token clients do not.
"""

import functools
import inspect
import json
from collections.abc import Callable

from flask import Blueprint, Response, current_app, request
from pydantic import BaseModel, ValidationError
from spectree import Response as SpecResponse
from spectree.utils import get_multidict_items

from app.auth import policy
from app.auth.services import via_bearer
from app.core.errors import ApiError
from app.core.extensions import csrf
from app.web.etags import Versioned, call_versioned
from app.web.openapi import VERSIONED, ErrorModel, spec

GEOJSON = "application/geo+json"
JSON_TYPES = ("application/json", GEOJSON)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def check_csrf() -> None:
    """Cookie-session writes need the CSRF token; bearer-token requests carry no ambient credential."""
    if request.method in SAFE_METHODS or not current_app.config.get("WTF_CSRF_ENABLED", True):
        return
    if via_bearer():
        return
    csrf.protect()


class ApiBlueprint(Blueprint):
    """A blueprint of the JSON API, under ``/api/v1`` unless told otherwise, with the API's CSRF rule."""

    def __init__(self, name: str, import_name: str, url_prefix: str = "/api/v1", tag: str | None = None, **kwargs):
        super().__init__(name, import_name, url_prefix=url_prefix, **kwargs)
        self.tag = tag or name.removesuffix("_api")
        csrf.exempt(self)  # Flask-WTF's form rule does not apply; check_csrf does
        self.before_request(check_csrf)

    def add_url_rule(self, rule, endpoint=None, view_func=None, **options):
        """Endpoints documented without tags are filed under the blueprint's tag."""
        meta = spec.get_function_metadata(view_func) if view_func is not None else None
        if meta is not None and not meta.tags:
            meta.tags = [self.tag]
        super().add_url_rule(rule, endpoint, view_func, **options)


# --------------------------------------------------------------------------- reading the request


def _no_nul(value: str, where: str) -> None:
    if "\x00" in value:
        raise ApiError(400, f"{where} must not contain NUL characters", {where: "NUL character"})


def _check_strings(value, path: str = "body") -> None:
    """NUL characters and lone surrogates can't be stored as text: refuse them where they are."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ApiError(400, f"{path}: NUL characters are not allowed", {path: "NUL character"})
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ApiError(
                400, f"{path}: lone surrogate in a string (not valid Unicode)", {path: "invalid Unicode"}
            ) from None
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_strings(k, path)
            _check_strings(v, f"{path}.{k}" if path != "body" else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_strings(v, f"{path}[{i}]")


def json_body(require_object: bool = True):
    """The request's JSON: 415 for other content types, 400 when malformed or not an object."""
    ctype = (request.mimetype or "").lower()
    if ctype not in JSON_TYPES:
        raise ApiError(415, f"send JSON (Content-Type: application/json or {GEOJSON}), not {ctype or 'nothing'}")
    try:
        data = json.loads(request.get_data(cache=True) or b"")
    except (ValueError, UnicodeDecodeError) as e:
        raise ApiError(400, f"malformed JSON: {e}") from None
    except RecursionError:
        raise ApiError(400, "malformed JSON: nested too deeply") from None
    if require_object and not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object", {"body": "not an object"})
    _check_strings(data)
    return data


def query_args() -> dict:
    """The query string as a dict (lists where a name repeats); NUL characters → 400."""
    for name, values in request.args.lists():
        _no_nul(name, "query parameter names")
        for v in values:
            _no_nul(v, name)
    return request.args


def int_arg(name: str, default: int, lo: int, hi: int) -> int:
    """An integer query parameter within [lo, hi], or 400 (for pages; API views declare a ``query`` model)."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer", {name: "not an integer"}) from None
    if not lo <= value <= hi:
        raise ApiError(400, f"{name} must be between {lo} and {hi}", {name: "out of range"})
    return value


# pydantic's error types in the short words the whole API uses (its own text otherwise).
MESSAGES = {
    "missing": "required",
    "extra_forbidden": "unknown field",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "list_type": "must be a list",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "date_type": "must be a date YYYY-MM-DD",
    "date_parsing": "must be a date YYYY-MM-DD",
    "date_from_datetime_parsing": "must be a date YYYY-MM-DD",
    "datetime_type": "must be an ISO 8601 date-time",
    "datetime_parsing": "must be an ISO 8601 date-time",
    "datetime_from_date_parsing": "must be an ISO 8601 date-time",
    "timezone_aware": "must include a time zone, e.g. +08:00",
    "greater_than": "must be > {gt}",
    "greater_than_equal": "must be ≥ {ge}",
    "less_than": "must be < {lt}",
    "less_than_equal": "must be ≤ {le}",
    "string_too_short": "at least {min_length} character(s)",
    "string_too_long": "at most {max_length} characters",
    "too_short": "at least {min_length} item(s)",
    "too_long": "at most {max_length} items",
    "string_pattern_mismatch": "malformed",
    "literal_error": "must be one of: {expected}",
    "enum": "must be one of: {expected}",
    "url_parsing": "must be a URL",
    "url_type": "must be a URL",
}


def _message(err: dict) -> str:
    template = MESSAGES.get(err["type"])
    if template is None:
        return err["msg"]
    try:
        return template.format(**err.get("ctx", {}))
    except (KeyError, IndexError):
        return err["msg"]


def _fields(e: ValidationError) -> dict[str, str]:
    out = {}
    for err in e.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "body"
        out.setdefault(loc, _message(err))
    return out


def parse_query(model: type[BaseModel]):
    """``model`` from the query string, or 400 naming each bad parameter."""
    args = query_args()
    try:
        return model.model_validate(get_multidict_items(args, model))
    except ValidationError as e:
        fields = _fields(e)
        raise ApiError(
            400, "bad query parameter(s): " + "; ".join(f"{k}: {v}" for k, v in fields.items()), fields
        ) from None


def parse_body(model: type[BaseModel], data=None):
    """``model`` from the JSON body (or ``data``), or 422 naming each bad field."""
    if data is None:
        data = json_body()
    try:
        return model.model_validate(data)
    except ValidationError as e:
        fields = _fields(e)
        raise ApiError(422, "invalid request: " + "; ".join(f"{k}: {v}" for k, v in fields.items()), fields) from None


# --------------------------------------------------------------------------- the declaration


class _Responses(SpecResponse):
    """spectree's responses, with the success answer under its own media type (GeoJSON, CSV …) and,
    for a versioned record, its ``ETag`` header."""

    def __init__(self, media_type: str, status: int, versioned: str | None = None, **codes):
        super().__init__(**codes)
        self.media_type, self.status, self.versioned = media_type, str(status), versioned

    def generate_spec(self, *args, **kwargs) -> dict:
        out = super().generate_spec(*args, **kwargs)
        content = out.get(self.status, {}).get("content")
        if content and self.media_type != "application/json":
            content[self.media_type] = content.pop("application/json")
        if self.versioned:  # the method is not known here: app.web.openapi adds If-Match and 412 to writes
            out[VERSIONED] = self.versioned
            if self.versioned == "answers" and self.status in out and self.status != "204":
                out[self.status]["headers"] = {
                    "ETag": {
                        "description": "the record's version: send it back as If-Match, and a write over a "
                        "change you have not seen is refused (412)",
                        "schema": {"type": "string"},
                    }
                }
        return out


def _responses(
    status: int,
    response,
    query,
    body,
    public,
    permission,
    errors,
    media_type: str = "application/json",
    versioned: str | None = None,
    also: dict | None = None,
) -> SpecResponse:
    codes = {f"HTTP_{status}": response}
    for code, model in (also or {}).items():
        codes[f"HTTP_{code}"] = model
    extra = set(errors)
    if query is not None:
        extra.add(400)
    if body is not None:
        extra |= {400, 415, 422}
    if not public:
        extra.add(401)
    if permission:
        extra.add(403)
    for code in sorted(extra):
        codes[f"HTTP_{code}"] = ErrorModel
    return _Responses(media_type, status, versioned, **codes)


def _describe(view: Callable, permission: str | None, public: bool) -> str:
    """The view's docstring plus who may call it, for the document."""
    doc = inspect.cleandoc(view.__doc__ or view.__name__)  # before appending: the indentation goes
    if permission:
        doc += f"\n\nNeeds permission `{permission}` (roles: {', '.join(policy.roles_with(permission))})."
    elif public:
        doc += "\n\nPublic: no login needed."
    else:
        doc += "\n\nAny logged-in user (session or bearer token)."
    return doc


def endpoint(
    *,
    query: type[BaseModel] | None = None,
    body: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    permission: str | None = None,
    public: bool = False,
    errors: tuple[int, ...] = (),
    tags: tuple[str, ...] = (),
    deprecated: bool = False,
    form: type[BaseModel] | None = None,
    media_type: str = "application/json",
    versioned: Versioned | None = None,
    answers_version: bool = True,
    also: dict[int, type[BaseModel] | None] | None = None,
) -> Callable:
    """Declare an API view: who may call it, its query and body models, and its answer.

    The view receives ``query=`` and ``body=`` (validated model instances) for what it declares,
    plus Flask's path arguments. ``response`` documents the answer (it is not re-validated).
    ``errors`` lists further statuses the view may answer (404, 409 …), for the documentation.
    ``form`` documents a ``multipart/form-data`` body (a file upload); the view reads
    ``request.files`` itself. ``media_type`` is the success answer's type (``application/geo+json``
    for GeoJSON answers). ``also`` names further success answers and their models (``{200: Model}`` when
    a create may answer an existing record, ``{202: JobModel}`` when the work is queued).

    ``versioned`` names the editable record the URL points at (:mod:`app.web.etags`): its answer carries
    the record's ``ETag``, and a write with a stale ``If-Match`` is refused with 412 before the view
    runs. ``answers_version=False``: the write is checked against the record but answers another one
    (a member added to a council), so no ``ETag`` is sent.
    """

    def decorate(view: Callable) -> Callable:
        call = _checked(view, query, body, permission, public, versioned, answers_version)
        # The declaration, given to spectree for the OpenAPI document only: validation is ours
        # (400 for the query, 422 for the body, the order above), and answers are not re-read.
        marker = None if versioned is None else ("answers" if answers_version else "checks")
        resp = _responses(status, response, query, body or form, public, permission, errors, media_type, marker, also)
        call.__wrapped__ = spec.validate(
            query=query,
            json=body,
            form=form,
            resp=resp,
            tags=tags or (),
            security={} if public else None,
            deprecated=deprecated,
        )(view)
        call.__doc__ = _describe(view, permission, public)
        call.wuwei_endpoint = {"permission": permission, "public": public}
        return call

    return decorate


def _checked(view: Callable, query, body, permission, public, versioned, answers_version) -> Callable:
    """``view`` behind the checks of its declaration: who, the query string, the body, the version."""

    @functools.wraps(view)
    def call(*args, **kwargs):
        if permission:
            policy.require(permission)
        elif not public:
            policy.require_login()
        if query is not None:
            kwargs["query"] = parse_query(query)
        else:
            query_args()
        if body is not None:
            kwargs["body"] = parse_body(body)
        if versioned is not None:
            return call_versioned(versioned, view, args, kwargs, tags_answer=answers_version)
        return view(*args, **kwargs)

    return call


def json_response(body, status: int = 200, headers: dict | None = None) -> Response:
    """``body`` (a dict, list or pydantic model) as a JSON response."""
    if isinstance(body, BaseModel):
        text = body.model_dump_json()
    else:
        text = json.dumps(body, ensure_ascii=False, default=str)
    return Response(text, status=status, mimetype="application/json", headers=headers)


def geojson_response(body: str, status: int = 200) -> Response:
    """A JSON text (built by PostgreSQL) typed as GeoJSON."""
    return Response(body, status=status, mimetype=GEOJSON)
