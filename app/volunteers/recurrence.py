"""Recurring activities: RFC 5545 RRULEs expanded with python-dateutil, in Asia/Shanghai.

Pure functions (no Flask, no database; the zone is :data:`app.core.time.TZ`). Month ends and leap
days follow RFC 5545: ``BYMONTHDAY=31`` skips months without a 31st, ``BYMONTHDAY=-1`` is the last
day of every month, ``FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29`` happens in leap years only.

Examples from the seed: "逢四来说事" ``FREQ=MONTHLY;BYMONTHDAY=4,14,24``,
"周五帮帮团" ``FREQ=WEEKLY;BYDAY=FR``.
"""

import datetime as dt

from dateutil.rrule import DAILY, MONTHLY, WEEKLY, YEARLY, rrulestr

from app.core.time import TZ, day_start

ALLOWED_FREQ = {DAILY, WEEKLY, MONTHLY, YEARLY}
MAX_OCCURRENCES = 1000


class RecurrenceError(ValueError):
    """A rule that is not a usable RFC 5545 RRULE; ``str()`` says why."""


def local(when: dt.datetime) -> dt.datetime:
    """``when`` in Asia/Shanghai (naive times are taken as Shanghai wall-clock)."""
    return when.replace(tzinfo=TZ) if when.tzinfo is None else when.astimezone(TZ)


def parse_rule(rule: str, dtstart: dt.datetime):
    """The dateutil rrule for ``rule`` (with or without the ``RRULE:`` prefix) from ``dtstart``."""
    if not isinstance(rule, str) or not rule.strip():
        raise RecurrenceError("empty rule")
    text = rule.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    if "\n" in text or "DTSTART" in text.upper() or len(text) > 500:
        raise RecurrenceError("give one RRULE line (without DTSTART)")
    try:
        parsed = rrulestr(text, dtstart=local(dtstart))
    except (ValueError, TypeError, KeyError, IndexError) as e:
        raise RecurrenceError(f"not a valid RRULE: {e}") from None
    if parsed._freq not in ALLOWED_FREQ:
        raise RecurrenceError("FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY")
    days = list(parsed._bymonthday or ()) + list(parsed._bynmonthday or ())
    if any(not 1 <= abs(d) <= 31 for d in days):
        raise RecurrenceError("BYMONTHDAY must be 1..31 or -31..-1")
    # A rule that never happens (BYMONTH=2;BYMONTHDAY=30) would make every expansion scan to year 9999.
    horizon = local(dtstart) + dt.timedelta(days=366 * 9)
    first = next(iter(parsed), None)
    if first is None or first > horizon:
        raise RecurrenceError("the rule has no occurrence within eight years of its start")
    return parsed


def normalise(rule: str | None) -> str | None:
    """The rule as stored: upper-case, no prefix; ``None`` for a one-off."""
    if rule is None or not str(rule).strip():
        return None
    text = str(rule).strip()
    return (text[6:] if text.upper().startswith("RRULE:") else text).upper()


def occurrences(
    rule: str | None, dtstart: dt.datetime, start: dt.datetime, end: dt.datetime, limit: int = MAX_OCCURRENCES
) -> list[dt.datetime]:
    """Start times in [start, end) (Shanghai time); a one-off when ``rule`` is empty."""
    first, start, end = local(dtstart), local(start), local(end)
    if not rule:
        return [first] if start <= first < end else []
    out = []
    for when in parse_rule(rule, first).xafter(start, inc=True):
        if when >= end or len(out) >= limit:
            break
        out.append(when)
    return out


def is_occurrence(rule: str | None, dtstart: dt.datetime, day: dt.date) -> bool:
    """Whether the activity happens on ``day`` (a Shanghai calendar date)."""
    begin = day_start(day)
    return bool(occurrences(rule, dtstart, begin, begin + dt.timedelta(days=1), limit=1))


def next_occurrence(rule: str | None, dtstart: dt.datetime, after: dt.datetime) -> dt.datetime | None:
    """The first occurrence at or after ``after``."""
    found = occurrences(rule, dtstart, after, local(after) + dt.timedelta(days=400), limit=1)
    return found[0] if found else None
