"""Query parameters of OGC API - Features: ``limit``, ``bbox``, ``datetime``.

Plain parsing with clear messages; the views turn :class:`ParamError` into a 400
``InvalidParameterValue`` exception.
"""
import datetime as dt
import math
from dataclasses import dataclass
from zoneinfo import ZoneInfo

DEFAULT_LIMIT = 100
MAX_LIMIT = 10000
LOCAL_TZ = ZoneInfo("Asia/Shanghai")


class ParamError(ValueError):
    """A query parameter that cannot be understood; ``str()`` says why."""


def parse_limit(raw: str | None) -> int:
    """``limit``: default 100; at least 1; values above 10000 are served as 10000."""
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    try:
        value = int(raw)
    except ValueError:
        raise ParamError(f"limit must be a positive integer, not {raw!r}") from None
    if value < 1:
        raise ParamError("limit must be at least 1")
    return min(value, MAX_LIMIT)


def parse_offset(raw: str | None) -> int:
    """``offset`` (the paging of the ``next`` links): a non-negative integer."""
    if raw is None or raw == "":
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise ParamError(f"offset must be a non-negative integer, not {raw!r}") from None
    if not 0 <= value <= 10_000_000:
        raise ParamError("offset must be between 0 and 10000000")
    return value


def parse_bbox(raw: str | None) -> tuple[float, float, float, float] | None:
    """``bbox``: 4 numbers (or 6 with heights, which are ignored) in CRS84 lon/lat."""
    if raw is None or raw == "":
        return None
    parts = raw.split(",")
    if len(parts) not in (4, 6):
        raise ParamError("bbox must be 4 numbers (minLon,minLat,maxLon,maxLat) or 6 with heights")
    try:
        nums = [float(p) for p in parts]
    except ValueError:
        raise ParamError("bbox values must be numbers") from None
    if not all(math.isfinite(v) for v in nums):
        raise ParamError("bbox values must be finite")
    minx, miny, maxx, maxy = (nums[0], nums[1], nums[3], nums[4]) if len(nums) == 6 else nums
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= 90 and -90 <= maxy <= 90):
        raise ParamError("bbox is out of range: longitudes in [-180, 180], latitudes in [-90, 90]")
    if miny > maxy:
        raise ParamError("bbox: the southern edge lies north of the northern edge")
    if minx > maxx:
        raise ParamError("bbox crossing the antimeridian is not supported (Wuwei's data lie in China)")
    return minx, miny, maxx, maxy


@dataclass(frozen=True)
class TimeBound:
    """One end of a ``datetime`` interval: an instant, or a whole day when only a date was given."""
    value: dt.datetime | dt.date

    @property
    def is_date(self) -> bool:
        return not isinstance(self.value, dt.datetime)

    def start(self) -> dt.datetime:
        v = self.value
        return v if not self.is_date else dt.datetime(v.year, v.month, v.day, tzinfo=LOCAL_TZ)

    def end(self) -> dt.datetime:
        """The last instant covered (exclusive end for dates is start of the next day)."""
        return self.value if not self.is_date else self.start() + dt.timedelta(days=1)

    def local_date(self) -> dt.date:
        v = self.value
        return v if self.is_date else v.astimezone(LOCAL_TZ).date()


def _bound(text: str) -> TimeBound | None:
    if text in ("", ".."):
        return None
    try:
        if "T" not in text.upper() and len(text) == 10:
            return TimeBound(dt.date.fromisoformat(text))
        value = dt.datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise ParamError(f"datetime: {text!r} is not an RFC 3339 date or date-time "
                         "(e.g. 2024-04-22 or 2024-04-22T08:00:00Z)") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=LOCAL_TZ)
    return TimeBound(value)


def parse_datetime(raw: str | None) -> tuple[TimeBound | None, TimeBound | None, bool] | None:
    """``datetime``: an instant or an interval ``start/end`` with ``..`` (or nothing) for an open end.

    Returns (start, end, is_instant), or None when absent or open at both ends.
    """
    if raw is None or raw == "":
        return None
    if "/" not in raw:
        b = _bound(raw)
        if b is None:
            raise ParamError("datetime: '..' alone is not an instant; use an interval like 2024-01-01/..")
        return b, b, True
    parts = raw.split("/")
    if len(parts) != 2:
        raise ParamError("datetime interval must be start/end, with '..' for an open end")
    start, end = _bound(parts[0]), _bound(parts[1])
    if start is None and end is None:
        return None
    if start is not None and end is not None and start.start() > end.end():
        raise ParamError("datetime: the interval ends before it starts")
    return start, end, False
