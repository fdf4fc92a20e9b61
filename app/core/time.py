"""The one time zone of the product: street offices work in China Standard Time.

Times are stored as ``timestamptz``; they are shown, bucketed into days and read from naive
input in this zone. SQL that needs the zone's name uses :data:`TZ_NAME` as a bound parameter.
"""

import datetime as dt
from zoneinfo import ZoneInfo

TZ_NAME = "Asia/Shanghai"
TZ = ZoneInfo(TZ_NAME)


def now() -> dt.datetime:
    """The current time, aware, in :data:`TZ`."""
    return dt.datetime.now(TZ)


def today() -> dt.date:
    """Today's date in :data:`TZ`."""
    return now().date()


def aware(value: dt.datetime) -> dt.datetime:
    """``value`` with :data:`TZ` attached when it has no zone (naive input means local wall-clock)."""
    return value if value.tzinfo else value.replace(tzinfo=TZ)


def day_start(day: dt.date) -> dt.datetime:
    """Midnight at the start of ``day`` in :data:`TZ`."""
    return dt.datetime(day.year, day.month, day.day, tzinfo=TZ)
