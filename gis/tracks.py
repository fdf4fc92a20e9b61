"""GPS fixes as tracking apps send them: parse, validate and normalise (no Flask, no database).

Covers the OsmAnd protocol of Traccar Client (query/form fields and the newer JSON body),
OwnTracks HTTP ``location`` messages, the Wuwei phone page's batches, GPX and CSV files.
Every parser returns :class:`Fix` values in SI units (speed m/s) with an aware UTC time,
or raises :class:`FixError` saying which field is wrong. The cleaning rules used in SQL
(``app.patrols.tracks``) are the constants below.
"""
import csv
import datetime as dt
import io
import math
from dataclasses import dataclass

KNOT = 0.514444             # m/s; OsmAnd sends speed in knots
KMH = 1 / 3.6               # OwnTracks sends vel in km/h
MAX_FUTURE = dt.timedelta(minutes=10)   # phone clocks drift; more than this is refused
MIN_TIME = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
# Cleaning: fixes worse than this accuracy (m) or implying more than this speed (m/s) are dropped.
MAX_ACCURACY_M = 50.0
MAX_SPEED_MS = 12.0         # ~43 km/h: patrols walk or cycle; faster jumps are GPS spikes
MAX_FILE_FIXES = 200_000


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
        now = now or dt.datetime.now(dt.timezone.utc)
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


def parse_time(value, field: str = "timestamp") -> dt.datetime:
    """Epoch seconds, epoch milliseconds or ISO 8601 (naive means UTC) → aware UTC datetime."""
    if value is None or value == "":
        raise FixError(field, "required")
    if isinstance(value, (int, float)) and not isinstance(value, bool) or \
            isinstance(value, str) and value.strip().replace(".", "", 1).isdigit():
        t = float(value)
        if t > 1e11:            # milliseconds (1e11 s is the year 5138)
            t /= 1000.0
        try:
            return dt.datetime.fromtimestamp(t, dt.timezone.utc)
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
        t = t.replace(tzinfo=dt.timezone.utc)
    return t.astimezone(dt.timezone.utc)


def osmand_device(args) -> str | None:
    """The device identifier of an OsmAnd request (``id`` or ``deviceid``)."""
    return (args.get("id") or args.get("deviceid") or "").strip() or None


def parse_osmand(args, now: dt.datetime | None = None) -> Fix:
    """Query/form fields of the OsmAnd protocol (Traccar Client's classic form)."""
    lat, lon = args.get("lat"), args.get("lon")
    if (lat is None or lon is None) and args.get("location"):
        parts = str(args.get("location")).split(",")
        if len(parts) != 2:
            raise FixError("location", "must be 'lat,lon'")
        lat, lon = parts
    ts = args.get("timestamp")
    speed = _num(args.get("speed"), "speed")
    battery = _num(args.get("batt"), "batt")
    accuracy = _num(args.get("accuracy"), "accuracy")
    if accuracy is None and args.get("hdop") not in (None, ""):
        accuracy = _num(args.get("hdop"), "hdop") * 5.0   # rough: HDOP 1 ≈ 5 m
    fix = Fix(lat=_num(lat, "lat", True), lon=_num(lon, "lon", True),
              fixed_at=parse_time(ts) if ts not in (None, "") else (now or dt.datetime.now(dt.timezone.utc)),
              accuracy=accuracy, speed=None if speed is None else speed * KNOT,
              heading=_num(args.get("bearing") or args.get("heading"), "bearing"),
              altitude=_num(args.get("altitude"), "altitude"), battery=battery)
    return fix.check(now)


def traccar_json_device(body) -> str | None:
    """The device identifier of a Traccar Client JSON body."""
    if isinstance(body, dict):
        v = body.get("device_id")
        return str(v).strip() if v not in (None, "") else None
    return None


def parse_traccar_json(body, now: dt.datetime | None = None) -> Fix:
    """The JSON body newer Traccar Client apps POST (``location.coords``, speed in m/s)."""
    if not isinstance(body, dict):
        raise FixError("body", "must be a JSON object")
    loc = body.get("location")
    if not isinstance(loc, dict):
        raise FixError("location", "required object")
    coords = loc.get("coords")
    if not isinstance(coords, dict):
        raise FixError("location.coords", "required object")
    batt = loc.get("battery") or body.get("battery")
    level = None
    if isinstance(batt, dict) and batt.get("level") is not None:
        level = _num(batt.get("level"), "battery.level")
        if level is not None and 0 <= level <= 1:
            level *= 100        # the app sends 0..1
    speed = _num(coords.get("speed"), "speed")
    heading = _num(coords.get("heading"), "heading")
    fix = Fix(lat=_num(coords.get("latitude"), "latitude", True),
              lon=_num(coords.get("longitude"), "longitude", True),
              fixed_at=parse_time(loc.get("timestamp")),
              accuracy=_num(coords.get("accuracy"), "accuracy"),
              speed=None if speed is None or speed < 0 else speed,      # -1 means unknown
              heading=None if heading is None or heading < 0 else heading,
              altitude=_num(coords.get("altitude"), "altitude"), battery=level)
    return fix.check(now)


def parse_owntracks(body, now: dt.datetime | None = None) -> Fix | None:
    """An OwnTracks message: a Fix for ``_type: location``, None for other types."""
    if not isinstance(body, dict):
        raise FixError("body", "must be a JSON object")
    if body.get("_type") != "location":
        return None
    vel = _num(body.get("vel"), "vel")
    fix = Fix(lat=_num(body.get("lat"), "lat", True), lon=_num(body.get("lon"), "lon", True),
              fixed_at=parse_time(body.get("tst"), "tst"), accuracy=_num(body.get("acc"), "acc"),
              speed=None if vel is None or vel < 0 else vel * KMH,
              heading=_num(body.get("cog"), "cog"), altitude=_num(body.get("alt"), "alt"),
              battery=_num(body.get("batt"), "batt"))
    return fix.check(now)


def parse_web_batch(items, now: dt.datetime | None = None, limit: int = 5000) -> list[Fix]:
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
            fixes.append(Fix(lat=_num(p.get("lat"), "lat", True), lon=_num(p.get("lon"), "lon", True),
                             fixed_at=parse_time(p.get("t"), "t"), accuracy=_num(p.get("acc"), "acc"),
                             speed=_num(p.get("speed"), "speed"), heading=_num(p.get("heading"), "heading"),
                             altitude=_num(p.get("alt"), "alt")).check(now))
        except FixError as e:
            raise FixError(f"positions[{i}].{e.field}", e.message) from None
    return fixes


def parse_gpx(data: bytes, now: dt.datetime | None = None) -> list[Fix]:
    """Track points of a GPX file (all tracks and segments; waypoints are ignored)."""
    import gpxpy
    import gpxpy.gpx
    try:
        gpx = gpxpy.parse(data.decode("utf-8-sig") if isinstance(data, bytes) else data)
    except (gpxpy.gpx.GPXException, UnicodeDecodeError, ValueError) as e:
        raise FixError("file", f"not a readable GPX file: {e}") from None
    fixes = []
    for track in gpx.tracks:
        for seg in track.segments:
            for i, p in enumerate(seg.points):
                if p.time is None:
                    raise FixError("file", f"track point {i + 1} has no time")
                t = p.time if p.time.tzinfo else p.time.replace(tzinfo=dt.timezone.utc)
                acc = p.horizontal_dilution * 5.0 if p.horizontal_dilution else None
                fixes.append(Fix(lat=p.latitude, lon=p.longitude, fixed_at=t.astimezone(dt.timezone.utc),
                                 altitude=p.elevation, accuracy=acc, speed=p.speed).check(now))
                if len(fixes) > MAX_FILE_FIXES:
                    raise FixError("file", f"more than {MAX_FILE_FIXES} points")
    if not fixes:
        raise FixError("file", "no track points")
    return fixes


_CSV_NAMES = {"lat": ("lat", "latitude", "纬度"), "lon": ("lon", "lng", "long", "longitude", "经度"),
              "time": ("time", "timestamp", "fixed_at", "datetime", "时间"), "accuracy": ("accuracy", "acc"),
              "speed": ("speed",), "altitude": ("altitude", "alt", "ele"), "heading": ("heading", "bearing", "course")}


def parse_csv(data: bytes, now: dt.datetime | None = None) -> list[Fix]:
    """A CSV with a header naming lat, lon and time columns (speed in m/s)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FixError("file", "CSV must be UTF-8") from None
    reader = csv.DictReader(io.StringIO(text))
    header = {(h or "").strip().lower(): h for h in (reader.fieldnames or [])}
    cols = {}
    for key, names in _CSV_NAMES.items():
        cols[key] = next((header[n] for n in names if n in header), None)
    missing = [k for k in ("lat", "lon", "time") if cols[k] is None]
    if missing:
        raise FixError("file", f"CSV header needs columns {', '.join(missing)} (have {', '.join(header) or 'none'})")
    fixes = []
    for i, row in enumerate(reader, start=2):
        try:
            fixes.append(Fix(lat=_num(row.get(cols["lat"]), "lat", True), lon=_num(row.get(cols["lon"]), "lon", True),
                             fixed_at=parse_time(row.get(cols["time"]), "time"),
                             **{k: _num(row.get(cols[k]), k) for k in ("accuracy", "speed", "altitude", "heading")
                                if cols[k]}).check(now))
        except FixError as e:
            raise FixError("file", f"line {i}: {e}") from None
        if len(fixes) > MAX_FILE_FIXES:
            raise FixError("file", f"more than {MAX_FILE_FIXES} rows")
    if not fixes:
        raise FixError("file", "no rows")
    return fixes


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (for checks; tracks are measured in PostGIS)."""
    r = 6371008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))
