"""Typed attribute fields for layer APIs: parse user values, report clear errors.

Shared by every feature that accepts attributes over HTTP, so that a bad value
gets the same message everywhere. :meth:`Field.annotation` gives the same rules as a
pydantic type, from which the layer API builds its request models and its OpenAPI schemas
(:mod:`app.basemap.schemas`); :meth:`Field.parse` reads one value of a list filter (``?status=a,b``).
Flags, dates, date-times and NUL characters follow :mod:`app.web.values`.
"""
import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, StringConstraints
from pydantic import Field as PydanticField

from app.web.params import invalid
from app.web.values import flag, iso_day, iso_moment, no_nul


class FieldError(ValueError):
    """A value that does not fit its field; ``str()`` says why."""


# PostgreSQL ``integer`` bounds: larger values would fail in the database, not here.
INT_MIN, INT_MAX = -2**31, 2**31 - 1


@dataclass(frozen=True)
class Field:
    """One attribute: its JSON name, column, type and limits."""
    name: str
    kind: str = "str"          # str, text, int, float, date, datetime, bool, enum, ref
    required: bool = False
    choices: tuple[str, ...] = ()
    max_len: int | None = None
    min: float | None = None
    max: float | None = None
    ref: str | None = None     # table for kind "ref" (the id must exist)
    filter: bool = False       # usable as ?name=value on lists
    writable: bool = True
    column: str | None = None  # defaults to name
    label: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def col(self) -> str:
        return self.column or self.name

    def parse(self, value):
        """The Python value for ``value``, or raise a ``ValueError`` saying why (:class:`FieldError` or
        :func:`app.web.params.invalid`)."""
        if value is None or (value == "" and self.kind not in ("str", "text")):
            if self.required:
                raise FieldError("required")
            return None
        parser = _PARSERS.get(self.kind)
        if parser is None:
            raise FieldError(f"unsupported field kind {self.kind}")
        return parser(self, value)

    def _parse_str(self, value):
        if not isinstance(value, str):
            raise FieldError("must be a string")
        value = no_nul(value).strip()
        if self.required and not value:
            raise FieldError("required")
        limit = self.max_len or (255 if self.kind == "str" else 10000)
        if len(value) > limit:
            raise FieldError(f"at most {limit} characters")
        return value

    def _parse_int(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise FieldError("must be an integer")
        try:
            value = int(value)
        except ValueError:
            raise FieldError("must be an integer") from None
        if not INT_MIN <= value <= INT_MAX:
            raise FieldError(f"must be between {INT_MIN} and {INT_MAX}")
        self._range(value)
        return value

    def _parse_float(self, value):
        if isinstance(value, bool):
            raise FieldError("must be a number")
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise FieldError("must be a number") from None
        if not math.isfinite(value):
            raise FieldError("must be a finite number")
        self._range(value)
        return value

    def _parse_enum(self, value):
        if not isinstance(value, str) or value not in self.choices:
            raise FieldError(f"must be one of: {', '.join(self.choices)}")
        return value

    def _range(self, value) -> None:
        if self.min is not None and value < self.min:
            raise FieldError(f"must be ≥ {self.min:g}")
        if self.max is not None and value > self.max:
            raise FieldError(f"must be ≤ {self.max:g}")

    def value_type(self) -> Any:
        """The pydantic type of one non-empty value (what :meth:`parse` accepts), with its limits."""
        k = self.kind
        if k in ("str", "text"):
            return Annotated[str, StringConstraints(strip_whitespace=True, min_length=1 if self.required else None,
                                                    max_length=self.max_len or (255 if k == "str" else 10000)),
                             AfterValidator(no_nul)]
        if k in ("int", "ref"):
            lo = INT_MIN if self.min is None else max(INT_MIN, math.ceil(self.min))
            hi = INT_MAX if self.max is None else min(INT_MAX, int(self.max))
            return Annotated[int, PydanticField(ge=lo, le=hi), BeforeValidator(_integer)]
        if k == "float":
            return Annotated[float, PydanticField(ge=self.min, le=self.max, allow_inf_nan=False),
                             BeforeValidator(_number)]
        if k == "bool":
            return bool
        if k == "enum":
            return Literal[tuple(self.choices)]
        if k == "date":
            return dt.date
        if k == "datetime":
            return AwareDatetime
        raise ValueError(f"unsupported field kind {k}")

    def annotation(self, nullable: bool | None = None) -> Any:
        """The pydantic type of this field in a request body: :meth:`value_type`, plus the empty value.

        ``null`` (and ``""`` for non-text kinds) means "no value": accepted when ``nullable``
        (by default: when the field is not required), else refused as "required".
        """
        if nullable is None:
            nullable = not self.required
        base = self.value_type()
        kind = self.kind

        def empty(value):
            if value is None or (value == "" and kind not in ("str", "text")):
                if not nullable:
                    raise invalid("required")
                return None
            return value
        typ = base | None if nullable else base
        return Annotated[typ, BeforeValidator(empty), PydanticField(description=self.label or None)]


_PARSERS = {"str": Field._parse_str, "text": Field._parse_str, "int": Field._parse_int, "ref": Field._parse_int,
            "float": Field._parse_float, "bool": lambda _, v: flag(v), "enum": Field._parse_enum,
            "date": lambda _, v: iso_day(v), "datetime": lambda _, v: iso_moment(v)}


def _integer(value):
    """Integers (``3`` or ``3.0``), or their digits as text (a CSV cell); never booleans."""
    if isinstance(value, bool):
        raise invalid("must be an integer")
    return value


def _number(value):
    if isinstance(value, bool):
        raise invalid("must be a number")
    return value

