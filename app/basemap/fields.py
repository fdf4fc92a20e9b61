"""Typed attribute fields for layer APIs: parse user JSON values, report clear errors.

Shared by every feature that accepts attributes over HTTP, so that a bad value
gets the same 422 message everywhere.
"""
import datetime as dt
import math
from dataclasses import dataclass, field


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
        """The Python value for ``value`` from JSON, or raise :class:`FieldError`."""
        if value is None or (value == "" and self.kind not in ("str", "text")):
            if self.required:
                raise FieldError("required")
            return None
        k = self.kind
        if k in ("str", "text"):
            if not isinstance(value, str):
                raise FieldError("must be a string")
            if "\x00" in value:
                raise FieldError("must not contain NUL characters")
            value = value.strip()
            if self.required and not value:
                raise FieldError("required")
            limit = self.max_len or (255 if k == "str" else 10000)
            if len(value) > limit:
                raise FieldError(f"at most {limit} characters")
            return value
        if k in ("int", "ref"):
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
        if k == "float":
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
        if k == "bool":
            if isinstance(value, bool):
                return value
            if value in ("true", "1", 1):
                return True
            if value in ("false", "0", 0):
                return False
            raise FieldError("must be true or false")
        if k == "enum":
            if not isinstance(value, str) or value not in self.choices:
                raise FieldError(f"must be one of: {', '.join(self.choices)}")
            return value
        if k == "date":
            if not isinstance(value, str):
                raise FieldError("must be a date YYYY-MM-DD")
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                raise FieldError("must be a date YYYY-MM-DD") from None
        if k == "datetime":
            if not isinstance(value, str):
                raise FieldError("must be an ISO 8601 date-time")
            try:
                parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                raise FieldError("must be an ISO 8601 date-time") from None
            if parsed.tzinfo is None:
                raise FieldError("must include a time zone, e.g. +08:00")
            return parsed
        raise FieldError(f"unsupported field kind {k}")

    def _range(self, value) -> None:
        if self.min is not None and value < self.min:
            raise FieldError(f"must be ≥ {self.min:g}")
        if self.max is not None and value > self.max:
            raise FieldError(f"must be ≤ {self.max:g}")

    def openapi(self) -> dict:
        """The JSON Schema of this field for the OpenAPI document."""
        k = self.kind
        schema: dict = {"str": {"type": "string"}, "text": {"type": "string"},
                        "int": {"type": "integer"}, "ref": {"type": "integer"},
                        "float": {"type": "number"}, "bool": {"type": "boolean"},
                        "enum": {"type": "string", "enum": list(self.choices)},
                        "date": {"type": "string", "format": "date"},
                        "datetime": {"type": "string", "format": "date-time"}}[k]
        if self.max_len:
            schema["maxLength"] = self.max_len
        if self.min is not None:
            schema["minimum"] = self.min
        if self.max is not None:
            schema["maximum"] = self.max
        if not self.required:
            schema["nullable"] = True
        if self.label:
            schema["description"] = self.label
        return schema


def parse_fields(fields: list[Field], data: dict, partial: bool = False) -> tuple[dict, dict]:
    """Parse ``data`` against ``fields``: (values by column, errors by name).

    Unknown keys are errors, so that a typo is not silently dropped.
    """
    values, errors = {}, {}
    known = {f.name: f for f in fields if f.writable}
    for key in data:
        if key not in known:
            errors[key] = "unknown field"
    for f in known.values():
        if f.name not in data:
            if f.required and not partial:
                errors[f.name] = "required"
            continue
        try:
            values[f.col] = f.parse(data[f.name])
        except FieldError as e:
            errors[f.name] = str(e)
    return values, errors
