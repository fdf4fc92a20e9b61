"""What Open311 clients send, as pydantic models: the ``GET requests`` and ``GET servicerequestupdates``
queries, the ``POST requests`` and ``POST servicerequestupdates`` forms, and a form's ``attribute[…]``.

Open311 clients add parameters of their own (``jurisdiction_id``, ``api_key`` on reads …): unknown
names are ignored, as the GeoReport v2 specification expects. A bad value is an Open311 error (400).
An empty value is no value ("a null parameter is a non-declared parameter").

Times: W3C/ISO 8601; a time without an offset is read in the deployment's zone (:data:`app.core.time.TZ`),
as everywhere in Wuwei (GeoReport v2 requires the offset, FixMyStreet's W3CDTF omits it for local times).
"""

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from app.core.time import aware
from app.open311.errors import Open311Error
from app.open311.services import MAX_ROWS
from app.open311.statuses import EXTENDED_UPPER
from app.web.params import CommaList, invalid

MAX_MEDIA = 20
_ATTRIBUTE = re.compile(r"attribute\[([^\[\]]{1,64})\](\[\])?")


def _ids(value: Any) -> Any:
    parts = [p.strip() for p in value.split(",") if p.strip()] if isinstance(value, str) else None
    if not parts or any(not p.isdigit() or len(p) > 18 for p in parts) or len(parts) > MAX_ROWS:
        raise invalid("must be a comma-separated list of ids")
    return [int(p) for p in parts]


def _datetime(value: Any) -> Any:
    """A W3C/ISO 8601 date-time; a raw ``+`` in a query string arrives as a space; no zone means +08:00."""
    if not isinstance(value, str):
        return value
    raw = value.strip().replace("Z", "+00:00")
    if "T" in raw and raw.count(" ") == 1:
        raw = raw.replace(" ", "+", 1)
    try:
        return aware(dt.datetime.fromisoformat(raw))
    except ValueError:
        raise invalid("must be an ISO 8601 date-time, e.g. 2026-04-12T09:00:00+08:00") from None


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise invalid("must be an http(s) URL")
    return value


MediaUrls = Annotated[
    list[Annotated[str, Field(max_length=512), AfterValidator(_http_url)]], Field(max_length=MAX_MEDIA)
]


Open311DateTime = Annotated[dt.datetime, BeforeValidator(_datetime)]


class _Open311(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, allow_inf_nan=False)


class _PagedPeriod(_Open311):
    """``start_date``..``end_date`` (not reversed) and a page of a listing."""

    start_date: Open311DateTime | None = None
    end_date: Open311DateTime | None = None
    page: Annotated[int, Field(ge=1, le=100_000)] = 1
    page_size: Annotated[int, Field(ge=1, le=MAX_ROWS)] = MAX_ROWS

    @model_validator(mode="after")
    def _period(self):
        if self.start_date and self.end_date and self.start_date > self.end_date:
            raise invalid("start_date must not be after end_date")
        return self


class RequestsQuery(_PagedPeriod):
    """``GET requests``: by ids (other filters ignored), or by filters over the last 90 days by default."""

    service_request_id: Annotated[list[int] | None, BeforeValidator(_ids)] = None
    service_code: CommaList[str] | None = None
    status: CommaList[Literal["open", "closed"]] | None = None


class RequestForm(_Open311):
    """``POST requests`` (form-encoded): a service, a place (lat and long, or an address) and what happened."""

    service_code: Annotated[str, Field(min_length=1, max_length=64)]
    lat: Annotated[float | None, Field(ge=-90, le=90)] = None
    long: Annotated[float | None, Field(ge=-180, le=180)] = None
    address_string: Annotated[str | None, Field(max_length=256)] = None
    description: Annotated[str | None, Field(max_length=4000)] = None
    media_url: MediaUrls = Field(default_factory=list)
    first_name: str | None = None
    last_name: str | None = None
    phone: Annotated[str | None, Field(max_length=32)] = None


def _status(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


class UpdatesQuery(_PagedPeriod):
    """``GET servicerequestupdates``: the state changes of ``start_date``..``end_date`` (default: the last day)."""


class UpdateForm(_Open311):
    """``POST servicerequestupdates`` as open311-adapter takes it (FixMyStreet sends these names)."""

    service_request_id: Annotated[str, Field(min_length=1, max_length=18, pattern=r"^[0-9]+$")]
    update_id: Annotated[str, Field(min_length=1, max_length=64)]
    status: Annotated[Literal[*EXTENDED_UPPER], BeforeValidator(_status)]
    updated_datetime: Open311DateTime
    description: Annotated[str | None, Field(max_length=4000)] = None
    media_url: MediaUrls = Field(default_factory=list)
    first_name: str | None = None
    last_name: str | None = None
    phone: Annotated[str | None, Field(max_length=32)] = None


LIST_FIELDS = {"media_url"}


def form_values(values) -> dict:
    """A form or query string as a model takes it: blank values left out, ``media_url`` (also
    ``media_url[]``) as the list of every value sent."""
    out = {k: v for k, v in values.items() if k not in LIST_FIELDS and v.strip() != ""}
    for name in LIST_FIELDS:
        sent = [v.strip() for key in (name, name + "[]") for v in values.getlist(key) if v.strip()]
        if sent:
            out[name] = sent
    return out


def form_attributes(values) -> dict:
    """``attribute[code]=v`` → ``{code: "v"}``; a list when sent several times or as ``attribute[code][]``
    (both GeoReport v2's multivaluelist form and FixMyStreet's repeated names). Blank values are no values."""
    attributes: dict[str, str | list[str]] = {}
    for key in values:
        match = _ATTRIBUTE.fullmatch(key)
        if match is None:
            continue
        sent = [v for v in values.getlist(key) if v.strip()]
        code, brackets = match.group(1), match.group(2)
        before = attributes.get(code)
        if before is not None:
            sent = (before if isinstance(before, list) else [before]) + sent
        if not sent:
            continue
        attributes[code] = sent if brackets or len(sent) > 1 or isinstance(before, list) else sent[0]
    return attributes


def parse(model: type[BaseModel], values) -> BaseModel:
    """``model`` from a query string or form (:func:`form_values`), or an Open311 error (400)."""
    try:
        return model.model_validate(form_values(values))
    except ValidationError as e:
        problems = []
        for err in e.errors(include_url=False):
            name = ".".join(str(p) for p in err["loc"])
            message = "required" if err["type"] == "missing" else err["msg"]
            problems.append(f"{name}: {message}" if name else message)
        raise Open311Error(400, "; ".join(problems)) from None
