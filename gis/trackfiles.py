"""GPS tracks from files: GPX (GPSBabel, Garmin devices, phone apps) and CSV with lat, lon and time columns.

A file is read point by point: a point that fails a check (no time, a latitude out of range, a time in
the future) is *refused* with where it is (GPX: track/segment/point numbers; CSV: the line) and why,
and the others are kept. The caller decides whether a partly bad file is imported (the good points) or
refused as a whole. A file that cannot be read at all raises :class:`gis.tracks.FixError`.
A time without a zone is wall-clock time in ``tz`` (the deployment's zone).
"""

import csv
import datetime as dt
import io
from dataclasses import dataclass, field

from gis.tracks import MAX_FILE_FIXES, Fix, FixError, _num, parse_time

MAX_REFUSED_LISTED = 1000


@dataclass
class Refused:
    """A point of a file that was not taken: ``where`` (``line 12``, ``track 1 segment 2 point 7``), ``reason``."""

    where: str
    reason: str


@dataclass
class TrackFile:
    """The points of a file that passed the checks, and those refused (at most the first 1000 listed)."""

    fixes: list[Fix] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    refused_count: int = 0

    def refuse(self, where: str, reason: str) -> None:
        self.refused_count += 1
        if len(self.refused) < MAX_REFUSED_LISTED:
            self.refused.append(Refused(where, reason))

    def take(self, fix: Fix) -> None:
        self.fixes.append(fix)
        if len(self.fixes) > MAX_FILE_FIXES:
            raise FixError("file", f"more than {MAX_FILE_FIXES} points")


def parse_gpx(data: bytes, now: dt.datetime | None = None, *, tz: dt.tzinfo) -> TrackFile:
    """Track points of a GPX file (all tracks and segments; waypoints are ignored)."""
    import gpxpy
    import gpxpy.gpx

    try:
        gpx = gpxpy.parse(data.decode("utf-8-sig") if isinstance(data, bytes) else data)
    except (gpxpy.gpx.GPXException, UnicodeDecodeError, ValueError) as e:
        raise FixError("file", f"not a readable GPX file: {e}") from None
    out = TrackFile()
    for t, track in enumerate(gpx.tracks, start=1):
        for s, seg in enumerate(track.segments, start=1):
            for i, p in enumerate(seg.points, start=1):
                where = f"track {t} segment {s} point {i}"
                if p.time is None:
                    out.refuse(where, "no time")
                    continue
                when = p.time if p.time.tzinfo else p.time.replace(tzinfo=tz)
                acc = p.horizontal_dilution * 5.0 if p.horizontal_dilution else None
                try:
                    fix = Fix(p.latitude, p.longitude, when.astimezone(dt.UTC), acc, p.speed, None, p.elevation)
                    out.take(fix.check(now))
                except FixError as e:
                    if e.field == "file":
                        raise
                    out.refuse(where, str(e))
    if not out.fixes and not out.refused_count:
        raise FixError("file", "no track points")
    return out


_CSV_NAMES = {
    "lat": ("lat", "latitude", "纬度"),
    "lon": ("lon", "lng", "long", "longitude", "经度"),
    "time": ("time", "timestamp", "fixed_at", "datetime", "时间"),
    "accuracy": ("accuracy", "acc"),
    "speed": ("speed",),
    "altitude": ("altitude", "alt", "ele"),
    "heading": ("heading", "bearing", "course"),
}


def _csv_columns(reader: csv.DictReader) -> dict:
    header = {(h or "").strip().lower(): h for h in (reader.fieldnames or [])}
    cols = {key: next((header[n] for n in names if n in header), None) for key, names in _CSV_NAMES.items()}
    missing = [k for k in ("lat", "lon", "time") if cols[k] is None]
    if missing:
        raise FixError("file", f"CSV header needs columns {', '.join(missing)} (have {', '.join(header) or 'none'})")
    return cols


def parse_csv(data: bytes, now: dt.datetime | None = None, *, tz: dt.tzinfo) -> TrackFile:
    """A CSV with a header naming lat, lon and time columns (speed in m/s)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FixError("file", "CSV must be UTF-8") from None
    reader = csv.DictReader(io.StringIO(text))
    cols = _csv_columns(reader)
    out = TrackFile()
    for row in reader:
        line = reader.line_num
        try:
            fix = Fix(
                lat=_num(row.get(cols["lat"]), "lat", True),
                lon=_num(row.get(cols["lon"]), "lon", True),
                fixed_at=parse_time(row.get(cols["time"]), "time", tz=tz),
                **{k: _num(row.get(cols[k]), k) for k in ("accuracy", "speed", "altitude", "heading") if cols[k]},
            )
            out.take(fix.check(now))
        except FixError as e:
            if e.field == "file":
                raise
            out.refuse(f"line {line}", str(e))
    if not out.fixes and not out.refused_count:
        raise FixError("file", "no rows")
    return out
