"""What Open311 clients send, as pydantic models: the ``GET requests`` query and the ``POST requests`` form.

Open311 clients add parameters of their own (``jurisdiction_id``, ``api_key`` on reads …): unknown
names are ignored, as the GeoReport v2 specification expects. A bad value is an Open311 error (400).
"""
import datetime as dt
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
from app.open311.services import MAX_ROWS, Open311Error
from app.web.params import CommaList, invalid


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


def _http_url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise invalid("must be an http(s) URL")
    return value


Open311DateTime = Annotated[dt.datetime, BeforeValidator(_datetime)]


class _Open311(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, allow_inf_nan=False)


class RequestsQuery(_Open311):
    """``GET requests``: by ids (other filters ignored), or by filters over the last 90 days by default."""
    service_request_id: Annotated[list[int] | None, BeforeValidator(_ids)] = None
    service_code: CommaList[str] | None = None
    start_date: Open311DateTime | None = None
    end_date: Open311DateTime | None = None
    status: CommaList[Literal["open", "closed"]] | None = None
    page: Annotated[int, Field(ge=1, le=100_000)] = 1
    page_size: Annotated[int, Field(ge=1, le=MAX_ROWS)] = MAX_ROWS

    @model_validator(mode="after")
    def _period(self):
        if self.start_date and self.end_date and self.start_date > self.end_date:
            raise invalid("start_date must not be after end_date")
        return self


class RequestForm(_Open311):
    """``POST requests`` (form-encoded): a service, a place (lat and long, or an address) and what happened."""
    service_code: Annotated[str, Field(min_length=1, max_length=64)]
    lat: Annotated[float | None, Field(ge=-90, le=90)] = None
    long: Annotated[float | None, Field(ge=-180, le=180)] = None
    address_string: Annotated[str | None, Field(max_length=256)] = None
    description: Annotated[str | None, Field(max_length=4000)] = None
    media_url: Annotated[str | None, Field(max_length=512), AfterValidator(_http_url)] = None
    first_name: str | None = None
    last_name: str | None = None
    phone: Annotated[str | None, Field(max_length=32)] = None


def parse(model: type[BaseModel], values) -> BaseModel:
    """``model`` from a query string or form (blank values left out), or an Open311 error (400)."""
    try:
        return model.model_validate({k: v for k, v in values.items() if v.strip() != ""})
    except ValidationError as e:
        problems = []
        for err in e.errors(include_url=False):
            name = ".".join(str(p) for p in err["loc"])
            message = "required" if err["type"] == "missing" else err["msg"]
            problems.append(f"{name}: {message}" if name else message)
        raise Open311Error(400, "; ".join(problems)) from None
