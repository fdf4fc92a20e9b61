"""GPS fixes as tracking apps send them: parse, validate and normalise (no Flask, no database).

Covers the OsmAnd protocol of Traccar Client (query/form fields and the newer JSON body),
OwnTracks HTTP messages and the Wuwei phone page's batches (GPX and CSV files: :mod:`gis.trackfiles`).
Every parser returns :class:`Fix` values in SI units (speed m/s) with an aware UTC time,
or raises :class:`FixError` saying which field is wrong; what a phone reports besides a position
(an alarm, a heartbeat without a fix, entering a region) is a :class:`DeviceEvent`. A value a client
marks unknown (``-1`` for speed, heading, battery) is ``None``. A time without a zone is read in the
zone ``tz`` the caller passes (the deployment's, ``app.core.time.TZ``). The cleaning rules used in SQL
(``app.patrols.tracks``) are the constants below.
"""

import datetime as dt
import math
from dataclasses import dataclass, field

KNOT = 0.514444  # m/s; OsmAnd sends speed in knots
KMH = 1 / 3.6  # OwnTracks sends vel in km/h
MAX_FUTURE = dt.timedelta(minutes=10)  # phone clocks drift; more than this is refused
MIN_TIME = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
# Cleaning: fixes worse than this accuracy (m) or implying more than this speed (m/s) are dropped.
MAX_ACCURACY_M = 50.0
MAX_SPEED_MS = 12.0  # ~43 km/h: patrols walk or cycle; faster jumps are GPS spikes
MAX_FILE_FIXES = 200_000
EVENT_KINDS = ("alarm", "heartbeat", "no_fix", "transition")


class FixError(ValueError):
    """A fix that cannot be stored; ``field`` names the offending field."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass
class Fix:
    """One position report in SI units."""

    lat: float
    lon: float
    fixed_at: dt.datetime
    accuracy: float | None = None
    speed: float | None = None
    heading: float | None = None
    altitude: float | None = None
    battery: float | None = None

    def check(self, now: dt.datetime | None = None) -> "Fix":
        """Raise :class:`FixError` unless the fix is plausible."""
        if not (-90 <= self.lat <= 90):
            raise FixError("lat", f"{self.lat} is outside -90..90")
        if not (-180 <= self.lon <= 180):
            raise FixError("lon", f"{self.lon} is outside -180..180")
        now = now or dt.datetime.now(dt.UTC)
        if self.fixed_at > now + MAX_FUTURE:
            raise FixError("timestamp", f"{self.fixed_at.isoformat()} is in the future")
        if self.fixed_at < MIN_TIME:
            raise FixError("timestamp", f"{self.fixed_at.isoformat()} is before 2000")
        for name in ("accuracy", "speed", "altitude"):
            v = getattr(self, name)
            if v is not None and (v < 0 and name != "altitude" or abs(v) > 1e6):
                raise FixError(name, f"{v} is out of range")
        if self.heading is not None:
            if not (-360 <= self.heading <= 360):
                raise FixError("heading", f"{self.heading} is outside 0..360")
            self.heading %= 360
        if self.battery is not None and not (0 <= self.battery <= 100):
            raise FixError("battery", f"{self.battery} is outside 0..100")
        return self


@dataclass
class DeviceEvent:
    """Something a phone reports besides a position: ``alarm`` (``detail`` e.g. ``sos``), ``heartbeat``,
    ``no_fix`` (cell towers or Wi-Fi only), ``transition`` (``detail`` ``enter:<region>``/``leave:<region>``)."""

    kind: str
    detail: str
    happened_at: dt.datetime
    lat: float | None = None
    lon: float | None = None
    attributes: dict = field(default_factory=dict)


@dataclass
class Report:
    """What one request of a tracking app carries: a fix, events, or both."""

    fix: Fix | None
    events: list[DeviceEvent] = field(default_factory=list)


def _num(value, field: str, required: bool = False) -> float | None:
    if value is None or (isinstance(value, str) and value.strip() == ""):
        if required:
            raise FixError(field, "required")
        return None
    if isinstance(value, bool):
        raise FixError(field, "must be a number")
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise FixError(field, f"{value!r} is not a number") from None
    if not math.isfinite(f):
        raise FixError(field, "must be finite")
    return f


def _known(value: float | None) -> float | None:
    """``None`` for the ``-1`` (any negative) that apps send for an unknown speed, heading or battery."""
    return None if value is None or value < 0 else value


def parse_time(value, field: str = "timestamp", *, tz: dt.tzinfo) -> dt.datetime:
    """Epoch seconds, epoch milliseconds or ISO 8601 → aware UTC datetime; a time without a zone
    (``2014-06-04 09:10:11``) is wall-clock time in ``tz``."""
    if value is None or value == "":
        raise FixError(field, "required")
    if (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        or isinstance(value, str)
        and value.strip().replace(".", "", 1).isdigit()
    ):
        t = float(value)
        if t > 1e11:  # milliseconds (1e11 s is the year 5138)
            t /= 1000.0
        try:
            return dt.datetime.fromtimestamp(t, dt.UTC)
        except (OverflowError, OSError, ValueError):
            raise FixError(field, f"{value!r} is out of range") from None
    if not isinstance(value, str):
        raise FixError(field, "must be epoch seconds/milliseconds or ISO 8601")
    text = value.strip().replace(" ", "T", 1)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        t = dt.datetime.fromisoformat(text)
    except ValueError:
        raise FixError(field, f"{value!r} is not epoch seconds/milliseconds or ISO 8601") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=tz)
    return t.astimezone(dt.UTC)


def osmand_device(args) -> str | None:
    """The device identifier of an OsmAnd request (``id`` or ``deviceid``)."""
    return (args.get("id") or args.get("deviceid") or "").strip() or None


def _has_position(args) -> bool:
    return bool(args.get("lat") not in (None, "") and args.get("lon") not in (None, "") or args.get("location"))


def parse_osmand(args, now: dt.datetime | None = None, *, tz: dt.tzinfo) -> Fix:
    """Query/form fields of the OsmAnd protocol (Traccar Client's classic form)."""
    lat, lon = args.get("lat"), args.get("lon")
    if (lat is None or lon is None) and args.get("location"):
        parts = str(args.get("location")).split(",")
        if len(parts) != 2:
            raise FixError("location", "must be 'lat,lon'")
        lat, lon = parts
    ts = args.get("timestamp")
    speed = _known(_num(args.get("speed"), "speed"))
    accuracy = _num(args.get("accuracy"), "accuracy")
    if accuracy is None and args.get("hdop") not in (None, ""):
        accuracy = _num(args.get("hdop"), "hdop") * 5.0  # rough: HDOP 1 ≈ 5 m
    fix = Fix(
        lat=_num(lat, "lat", True),
        lon=_num(lon, "lon", True),
        fixed_at=parse_time(ts, tz=tz) if ts not in (None, "") else (now or dt.datetime.now(dt.UTC)),
        accuracy=_known(accuracy),
        speed=None if speed is None else speed * KNOT,
        heading=_known(_num(args.get("bearing") or args.get("heading"), "bearing")),
        altitude=_num(args.get("altitude"), "altitude"),
        battery=_known(_num(args.get("batt"), "batt")),
    )
    return fix.check(now)


def parse_osmand_report(args, method: str, now: dt.datetime | None = None, *, tz: dt.tzinfo) -> Report:
    """An OsmAnd request: its fix, and an ``alarm`` event when it carries ``alarm=…``.

    Without a position, a POST with ``alarm``, ``cell`` or ``wifi`` is an event (Traccar keeps it too);
    a GET or HEAD without a position is refused: a link opened by a browser or a crawler writes nothing.
    """
    ts = args.get("timestamp")
    alarm = (args.get("alarm") or "").strip()[:32]
    if _has_position(args):
        fix = parse_osmand(args, now, tz=tz)
        events = [DeviceEvent("alarm", alarm, fix.fixed_at, fix.lat, fix.lon)] if alarm else []
        return Report(fix, events)
    cells, wifi = args.getlist("cell"), args.getlist("wifi")
    if method != "POST" or not (alarm or cells or wifi):
        raise FixError("lat", "required (a request without a position stores nothing)")
    at = parse_time(ts, tz=tz) if ts not in (None, "") else (now or dt.datetime.now(dt.UTC))
    if alarm:
        return Report(None, [DeviceEvent("alarm", alarm, at, attributes={"cell": cells, "wifi": wifi})])
    return Report(None, [DeviceEvent("no_fix", "", at, attributes={"cell": cells[:20], "wifi": wifi[:20]})])


def traccar_json_device(body) -> str | None:
    """The device identifier of a Traccar Client JSON body."""
    if isinstance(body, dict):
        v = body.get("device_id")
        return str(v).strip() if v not in (None, "") else None
    return None


def _traccar_fix(loc: dict, coords: dict, at: dt.datetime, now) -> Fix:
    batt = loc.get("battery")
    level = None
    if isinstance(batt, dict) and batt.get("level") is not None:
        level = _known(_num(batt.get("level"), "battery.level"))
        if level is not None and level <= 1:
            level *= 100  # the app sends 0..1
    return Fix(
        lat=_num(coords.get("latitude"), "latitude", True),
        lon=_num(coords.get("longitude"), "longitude", True),
        fixed_at=at,
        accuracy=_known(_num(coords.get("accuracy"), "accuracy")),
        speed=_known(_num(coords.get("speed"), "speed")),
        heading=_known(_num(coords.get("heading"), "heading")),
        altitude=_num(coords.get("altitude"), "altitude"),
        battery=level,
    ).check(now)


def parse_traccar_json(body, now: dt.datetime | None = None, *, tz: dt.tzinfo) -> Report:
    """The JSON body newer Traccar Client apps POST (``location.coords``, speed in m/s, ``-1`` unknown).

    ``location.alarm`` (or ``extras.alarm``) is an alarm event; a body without ``coords`` (a heartbeat,
    a fix the phone could not get) is an event of its own, as Traccar keeps it.
    """
    if not isinstance(body, dict):
        raise FixError("body", "must be a JSON object")
    loc = body.get("location")
    if not isinstance(loc, dict):
        raise FixError("location", "required object")
    at = parse_time(loc.get("timestamp"), tz=tz)
    extras = loc.get("extras") if isinstance(loc.get("extras"), dict) else {}
    alarm = str(loc.get("alarm") or extras.get("alarm") or "").strip()[:32]
    coords = loc.get("coords")
    if coords is not None and not isinstance(coords, dict):
        raise FixError("location.coords", "must be an object")
    fix = _traccar_fix(loc, coords, at, now) if coords else None
    lat, lon = (fix.lat, fix.lon) if fix else (None, None)
    events = [DeviceEvent("alarm", alarm, at, lat, lon)] if alarm else []
    if fix is None and not events:
        kind = "heartbeat" if loc.get("event") == "heartbeat" else "no_fix"
        events.append(DeviceEvent(kind, str(loc.get("event") or "")[:32], at))
    return Report(fix, events)


def parse_owntracks(body, now: dt.datetime | None = None, *, tz: dt.tzinfo) -> Report:
    """An OwnTracks message: ``location`` is a fix, ``transition`` an event, other types nothing.

    ``-1`` (``vel``, ``cog``) means unknown. ``tst`` is epoch seconds, so ``tz`` is never needed here;
    it is taken for a client that sends an ISO time.
    """
    if not isinstance(body, dict):
        raise FixError("body", "must be a JSON object")
    kind = body.get("_type")
    if kind == "transition":
        event = str(body.get("event") or "")[:8]
        region = str(body.get("desc") or "")[:20]
        at = parse_time(body.get("tst"), "tst", tz=tz)
        lat, lon = _num(body.get("lat"), "lat"), _num(body.get("lon"), "lon")
        attrs = {k: body[k] for k in ("wtst", "t", "acc", "tid", "rid") if k in body}
        return Report(None, [DeviceEvent("transition", f"{event}:{region}", at, lat, lon, attrs)])
    if kind != "location":
        return Report(None)
    vel = _known(_num(body.get("vel"), "vel"))
    fix = Fix(
        lat=_num(body.get("lat"), "lat", True),
        lon=_num(body.get("lon"), "lon", True),
        fixed_at=parse_time(body.get("tst"), "tst", tz=tz),
        accuracy=_known(_num(body.get("acc"), "acc")),
        speed=None if vel is None else vel * KMH,
        heading=_known(_num(body.get("cog"), "cog")),
        altitude=_num(body.get("alt"), "alt"),
        battery=_known(_num(body.get("batt"), "batt")),
    )
    return Report(fix.check(now))


def parse_web_batch(items, now: dt.datetime | None = None, limit: int = 5000, *, tz: dt.tzinfo) -> list[Fix]:
    """The phone page's batch: ``[{"lat","lon","t" (ms or ISO),"acc","speed","heading","alt"}]``."""
    if not isinstance(items, list):
        raise FixError("positions", "must be a list")
    if len(items) > limit:
        raise FixError("positions", f"at most {limit} per batch")
    fixes = []
    for i, p in enumerate(items):
        if not isinstance(p, dict):
            raise FixError(f"positions[{i}]", "must be an object")
        try:
            fixes.append(
                Fix(
                    lat=_num(p.get("lat"), "lat", True),
                    lon=_num(p.get("lon"), "lon", True),
                    fixed_at=parse_time(p.get("t"), "t", tz=tz),
                    accuracy=_known(_num(p.get("acc"), "acc")),
                    speed=_known(_num(p.get("speed"), "speed")),
                    heading=_known(_num(p.get("heading"), "heading")),
                    altitude=_num(p.get("alt"), "alt"),
                ).check(now)
            )
        except FixError as e:
            raise FixError(f"positions[{i}].{e.field}", e.message) from None
    return fixes


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (for checks; tracks are measured in PostGIS)."""
    r = 6371008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))
