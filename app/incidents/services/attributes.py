"""A report's extra attributes checked against its category's declaration (Open311 service attributes).

Each attribute is declared with a datatype (``string``, ``number``, ``datetime``, ``text``,
``singlevaluelist``, ``multivaluelist``, as GeoReport v2 defines them). A value is checked and stored
in the form its datatype gives it: numbers as JSON numbers, date-times as ISO 8601 with their offset
(naive input read in :data:`app.core.time.TZ`), a list's keys as declared, a multivaluelist as a list.
An empty value is no value (GeoReport v2: "a null parameter is a non-declared parameter").
"""

import datetime as dt
import math
import re
import unicodedata

from app.core.time import aware
from app.incidents.models import IncidentCategory

MAX_STRING = 500
MAX_TEXT = 4000
MAX_VALUES = 50
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", re.ASCII)


class BadValue(ValueError):
    """A value its datatype does not allow; the message says what is expected."""


def _one(value):
    if isinstance(value, list):
        if len(value) != 1:
            raise BadValue("one value expected")
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise BadValue("a text or a number")
    return value


def _number(value) -> int | float:
    value = _one(value)
    if isinstance(value, str):
        text = unicodedata.normalize("NFKC", value).strip()  # full-width digits from an IME
        if not _NUMBER.fullmatch(text):
            raise BadValue("must be a number")
        value = float(text) if any(c in text for c in ".eE") else int(text)
    if isinstance(value, float) and not math.isfinite(value):
        raise BadValue("must be a finite number")
    return value


def _datetime(value) -> str:
    value = _one(value)
    if not isinstance(value, str):
        raise BadValue("must be an ISO 8601 date-time")
    try:
        return aware(dt.datetime.fromisoformat(value.strip())).isoformat()
    except ValueError:
        raise BadValue("must be an ISO 8601 date-time, e.g. 2026-04-12T09:00:00+08:00") from None


def _text(limit: int, single_line: bool):
    def check(value) -> str:
        value = str(_one(value))
        if len(value) > limit:
            raise BadValue(f"at most {limit} characters")
        if single_line and ("\n" in value or "\r" in value):
            raise BadValue("a single line (datatype string; text allows line breaks)")
        return value

    return check


def _keys(spec: dict) -> dict[str, object]:
    return {str(v["key"]): v["key"] for v in spec.get("values") or []}


def _single(spec: dict):
    def check(value):
        keys = _keys(spec)
        value = str(_one(value))
        if value not in keys:
            raise BadValue(f"not one of the allowed values ({', '.join(keys)})")
        return keys[value]

    return check


def _multi(spec: dict):
    def check(value) -> list:
        keys = _keys(spec)
        values = value if isinstance(value, list) else [value]
        if len(values) > MAX_VALUES:
            raise BadValue(f"at most {MAX_VALUES} values")
        chosen = []
        for v in values:
            if isinstance(v, bool) or not isinstance(v, (str, int)) or str(v) not in keys:
                raise BadValue(f"{v!r} is not one of the allowed values ({', '.join(keys)})")
            if keys[str(v)] not in chosen:
                chosen.append(keys[str(v)])
        return chosen

    return check


def _checker(spec: dict):
    datatype = spec.get("datatype") or "string"
    if datatype == "number":
        return _number
    if datatype == "datetime":
        return _datetime
    if datatype == "text":
        return _text(MAX_TEXT, single_line=False)
    if datatype == "singlevaluelist":
        return _single(spec)
    if datatype == "multivaluelist":
        return _multi(spec)
    if spec.get("values"):  # a string attribute that nevertheless lists its values
        return _single(spec)
    return _text(MAX_STRING, single_line=True)


def _empty(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


def check_attributes(category: IncidentCategory, attributes: dict) -> tuple[dict, dict]:
    """(the values as stored, errors by ``attribute[code]``) for a report of ``category``."""
    known = {a["code"]: a for a in category.attributes or []}
    values, errors = {}, {}
    for code, value in attributes.items():
        spec = known.get(code)
        if spec is None:
            errors[f"attribute[{code}]"] = "unknown attribute"
        elif not _empty(value):
            try:
                values[code] = _checker(spec)(value)
            except BadValue as e:
                errors[f"attribute[{code}]"] = f"{e} (datatype {spec.get('datatype') or 'string'})"
    for code, spec in known.items():
        if spec.get("required") and code not in values and f"attribute[{code}]" not in errors:
            errors[f"attribute[{code}]"] = "required"
    return values, errors
