"""A refused request said in the reader's language, for pages (the API itself answers in English).

The API's field messages are short English phrases (``required``, ``must be > 0``, ``at most 4000
characters``; :data:`app.web.api.MESSAGES` and the services' own). A page that shows them — a flashed
refusal, a field error under a form input, a script showing an API answer — passes them through
:func:`say`, which gives the phrase of this table in the current language, and :func:`describe`, which
names each field by its label. A phrase not in the table is shown as it is.
"""

import re

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.core.errors import ApiError
from app.web.labels import FIELD_LABELS

# English API phrase (a regular expression for those with a value) → the phrase people read.
PHRASES: list[tuple[str, object]] = [
    (r"required", _l("必填")),
    (r"required: lon and lat \(or a GeoJSON geometry\)", _l("请在地图上点选位置")),
    (r"unknown field", _l("不认识的字段")),
    (r"must be a string", _l("须为文字")),
    (r"must be an integer", _l("须为整数")),
    (r"must be a (finite )?number", _l("须为数字")),
    (r"must be true or false", _l("须为是或否")),
    (r"must be a list", _l("须为列表")),
    (r"must be an object", _l("格式不对")),
    (r"must be a date YYYY-MM-DD", _l("须为日期（年-月-日）")),
    (r"must be an ISO 8601 date-time", _l("须为日期和时间")),
    (r"must include a time zone, e\.g\. \+08:00", _l("须为带时区的时间")),
    (r"must be > (?P<n>\S+)", _l("须大于 %(n)s")),
    (r"must be ≥ (?P<n>\S+)", _l("不能小于 %(n)s")),
    (r"must be < (?P<n>\S+)", _l("须小于 %(n)s")),
    (r"must be ≤ (?P<n>\S+)", _l("不能大于 %(n)s")),
    (r"at least (?P<n>\d+) character\(s\)", _l("至少 %(n)s 个字")),
    (r"at most (?P<n>\d+) characters", _l("最多 %(n)s 个字")),
    (r"at least (?P<n>\d+) item\(s\)", _l("至少 %(n)s 项")),
    (r"at most (?P<n>\d+) items", _l("最多 %(n)s 项")),
    (r"malformed", _l("格式不对")),
    (r"must be one of: (?P<n>.+)", _l("须为以下之一：%(n)s")),
    (r"must be a URL", _l("须为网址")),
    (r"unknown", _l("不存在")),
    (r"unknown or not yours", _l("不存在或不在您的辖区")),
    (r"unknown or outside your area", _l("不存在或不在您的辖区")),
    (r"outside your scope|outside your area", _l("不在您的辖区")),
    (r"unknown user", _l("没有这个用户")),
    (r"unknown building", _l("没有这栋楼")),
    (r"unknown area", _l("没有这个区域")),
    (r"unknown state", _l("没有这个状态")),
    (r"too long", _l("太长")),
    (r"too short", _l("太短")),
    (r"NUL character", _l("含有不允许的字符")),
    (r"not an integer", _l("须为整数")),
    (r"not a number", _l("须为数字")),
    (r"out of range", _l("超出范围")),
]
_COMPILED = [(re.compile(rf"^(?:{p})$"), text) for p, text in PHRASES]


def say(phrase: str | None) -> str:
    """``phrase`` (an API field message) in the current language; as it is when not in the table."""
    if not phrase:
        return ""
    for pattern, text in _COMPILED:
        m = pattern.match(phrase.strip())
        if m:
            return str(text) % m.groupdict() if m.groupdict() else str(text)
    return phrase


# Form fields that are not layer attributes (those are in app.web.labels).
FORM_FIELDS = {
    "description": _l("描述"),
    "category": _l("类别"),
    "location": _l("位置"),
    "geometry": _l("位置"),
    "lon": _l("经度"),
    "lat": _l("纬度"),
    "photo": _l("照片"),
    "title": _l("名称"),
    "kind": _l("类型"),
    "body": _l("内容"),
    "note": _l("备注"),
    "summary": _l("情况"),
    "follow_up": _l("跟进"),
    "visited_at": _l("走访时间"),
    "household_id": _l("住户"),
    "building_id": _l("楼栋"),
}


def field_label(name: str) -> str:
    """A field's name as people read it (its label, else the name itself)."""
    label = FORM_FIELDS.get(name) or FIELD_LABELS.get(name)
    return str(label) if label is not None else name


def describe(e: ApiError) -> str:
    """A refusal for a page: what is wrong with which field, in the reader's language."""
    if e.said:
        return e.message
    if not e.fields:
        return say(e.message)
    details = _("；").join(
        _("%(field)s：%(problem)s", field=field_label(k), problem=say(v)) for k, v in e.fields.items()
    )
    return _("请检查：%(details)s", details=details)
