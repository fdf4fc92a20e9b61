"""A notice in words, in the reader's language: its kind's message filled with its parameters."""

import datetime as dt

from flask_babel import format_datetime, gettext

from app.notices.kinds import KINDS


def _value(name: str, value):
    if name.endswith("_at") and isinstance(value, str):
        try:
            return format_datetime(dt.datetime.fromisoformat(value), "yyyy-MM-dd HH:mm")
        except ValueError:
            return value
    return "" if value is None else value


def notice_text(kind: str, params: dict) -> str:
    """The message of ``kind`` with ``params`` (times as local date and time); a kind no longer
    registered says so rather than failing the page."""
    entry = KINDS.get(kind)
    if entry is None:
        return gettext("通知") + f" ({kind})"
    values = {k: _value(k, v) for k, v in (params or {}).items()}
    try:
        return str(entry.message) % values
    except (KeyError, TypeError, ValueError):
        return str(entry.label)


def kind_label(kind: str) -> str:
    """The kind's name for people."""
    entry = KINDS.get(kind)
    return str(entry.label) if entry is not None else kind
