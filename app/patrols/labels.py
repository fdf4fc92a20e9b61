"""The names people read for a patrol's kind and state; a patrol's default title."""

from babel.dates import format_skeleton
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from app.core.time import now

KIND_LABELS = {
    "grid_walk": _l("网格巡查"),
    "cleanup": _l("清洁行动"),
    "bike_rectification": _l("单车整治"),
    "charger_check": _l("充电桩安全检查"),
    "other": _l("其他"),
}
STATE_LABELS = {"planned": _l("计划中"), "active": _l("进行中"), "finished": _l("已结束"), "cancelled": _l("已取消")}


def default_title(kind: str) -> str:
    """A title for a patrol started without one: its kind and today's date (网格巡查 12月2日)."""
    return f"{KIND_LABELS.get(kind, kind)} {format_skeleton('MMMd', now(), locale=get_locale() or 'zh')}"
