"""Value rules for what users send, written once: text, flags, days and moments.

Text is bounded and free of NUL characters; a flag is ``true``/``false`` (or ``"true"``/``"false"``,
``1``/``0`` as forms send them), nothing looser; a day is ``YYYY-MM-DD``; a moment is an ISO 8601
date-time with its time zone. The plain rules (:func:`no_nul`, :func:`flag`, :func:`iso_day`,
:func:`iso_moment`) raise :func:`app.web.params.invalid` errors (a ``ValueError`` whose text is the
message), so pydantic models and the layer fields' filters (:mod:`app.basemap.fields`) give the same
message for the same bad value.

The pydantic types (:data:`Flag`, :data:`Day`, :data:`Moment`, :func:`Text`, :func:`unset`) are the
bodies' of households, volunteers and wishes; pages validate their forms with the same models
(:func:`app.web.api.parse_body`). Days and moments there lie between the years 1800 and 2999.
"""
import datetime as dt
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema

from app.core.time import TZ
from app.web.params import invalid


def no_nul(value: str) -> str:
    """``value`` unless it holds a NUL character (PostgreSQL text cannot)."""
    if "\x00" in value:
        raise invalid("must not contain NUL characters")
    return value


def flag(value: Any) -> bool:
    """``true``/``false``, ``"true"``/``"false"``, ``1``/``0`` or ``"1"``/``"0"``."""
    if isinstance(value, bool):
        return value
    if value in ("true", "1", 1):
        return True
    if value in ("false", "0", 0):
        return False
    raise invalid("must be true or false")


def iso_day(value: Any) -> dt.date:
    """A date, or its ``YYYY-MM-DD`` text."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str):
        raise invalid("must be a date YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise invalid("must be a date YYYY-MM-DD") from None


def iso_moment(value: Any) -> dt.datetime:
    """A date-time with its time zone, or its ISO 8601 text."""
    if not isinstance(value, dt.datetime):
        if not isinstance(value, str):
            raise invalid("must be an ISO 8601 date-time")
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise invalid("must be an ISO 8601 date-time") from None
    if value.tzinfo is None:
        raise invalid("must include a time zone, e.g. +08:00")
    return value


def Text(max_length: int, min_length: int = 0):
    """A string (trimmed by :class:`app.web.params.Body`) of at most ``max_length`` characters."""
    return Annotated[str, Field(min_length=min_length, max_length=max_length), AfterValidator(no_nul)]


# Dates and times outside these years are typing mistakes here, and near year 1 or 9999 the arithmetic on
# them (a day later, another time zone) would overflow.
FIRST_YEAR, LAST_YEAR = 1800, 2999


def _in_range(value):
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise invalid(f"must be between the years {FIRST_YEAR} and {LAST_YEAR}")
    return value


def _moment(value: Any) -> dt.datetime:
    # The same instant in Asia/Shanghai: PostgreSQL takes offsets up to ±15:59 only, Python up to ±23:59.
    return _in_range(iso_moment(value)).astimezone(TZ)


Flag = Annotated[bool, BeforeValidator(flag)]
Day = Annotated[dt.date, BeforeValidator(lambda value: _in_range(iso_day(value))),
                WithJsonSchema({"type": "string", "format": "date"})]
Moment = Annotated[dt.datetime, BeforeValidator(_moment),
                   WithJsonSchema({"type": "string", "format": "date-time",
                                   "description": "ISO 8601 with a time zone, e.g. 2026-03-04T09:30:00+08:00"})]


def _no_default(schema: dict) -> None:
    schema.pop("default", None)


def unset(description: str | None = None):
    """The default of a patch field that may be left out but not set to ``null`` (no default in the schema)."""
    return Field(None, description=description, json_schema_extra=_no_default)
