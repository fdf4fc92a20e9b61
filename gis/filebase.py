"""What the file readers share: their errors, the caps on what a file may hold, the result type.

Plain Python (no Flask, no database): :mod:`gis.fileio` and :mod:`gis.csvfile` raise these;
callers turn them into answers.
"""

import datetime as dt
import json
import re
import time
from dataclasses import dataclass

import numpy as np


class FileFormatError(ValueError):
    """The file cannot be read as the format it claims; ``str()`` says why."""


class UnknownFormatError(ValueError):
    """No supported format matches the name or the request."""


@dataclass(frozen=True)
class Limits:
    """Caps on what a file may hold (None: no cap); ``deadline`` is a :func:`time.monotonic` value.

    Reading stops as soon as one is passed (:class:`LimitExceededError`): the features are counted
    before any geometry is read, vertices before features are turned into GeoJSON.
    """

    features: int | None = None
    vertices_per_feature: int | None = None
    vertices: int | None = None
    deadline: float | None = None

    def check_time(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise LimitExceededError("seconds", None, "reading the file took too long")

    def check_features(self, n: int, exact: bool = True) -> None:
        if self.features is not None and n > self.features:
            held = f"{n:,}" if exact else f"more than {self.features:,}"
            raise LimitExceededError("features", self.features, f"the file holds {held} features")


NO_LIMITS = Limits()


class LimitExceededError(ValueError):
    """A file passes one of its :class:`Limits`: ``cap`` names which (``features``,
    ``vertices_per_feature``, ``vertices`` or ``seconds``), ``limit`` its value, ``row`` the
    feature where it was passed (when one is to blame)."""

    def __init__(self, cap: str, limit: int | None, message: str, row: int | None = None):
        super().__init__(message)
        self.cap, self.limit, self.row = cap, limit, row


@dataclass
class ReadResult:
    """Features read from a file: ``features`` carry ``row`` (1-based), ``properties``, ``geometry``."""

    features: list[dict]
    columns: list[str]
    source_crs: str | None
    encoding: str | None = None  # the text encoding a Shapefile was read in, when it had to be found


def check_vertices(geoms, limits: Limits, first_row: int = 1) -> int:
    """The vertices of an array of shapely geometries (None allowed); LimitExceededError past a cap."""
    import shapely

    if limits.vertices_per_feature is None and limits.vertices is None:
        return 0
    counts = shapely.get_num_coordinates(np.asarray(geoms, dtype=object))
    if limits.vertices_per_feature is not None and len(counts) and counts.max() > limits.vertices_per_feature:
        i = int(np.argmax(counts > limits.vertices_per_feature))
        raise LimitExceededError(
            "vertices_per_feature",
            limits.vertices_per_feature,
            f"row {first_row + i} has {int(counts[i]):,} vertices",
            row=first_row + i,
        )
    total = int(counts.sum())
    if limits.vertices is not None and total > limits.vertices:
        raise LimitExceededError("vertices", limits.vertices, f"the file holds {total:,} vertices")
    return total


def to_geojson(geom) -> dict:
    """A shapely geometry as a GeoJSON dict with lists, as JSON would give it."""
    import shapely

    return json.loads(shapely.to_geojson(geom))


def short(e: Exception) -> str:
    return str(e).split("\n")[0][:300]


# Dates as GDAL, QGIS and spreadsheets write them: 2024-04-22, 2024/04/22, 2024.4.22, 2024-04-22T00:00:00,
# 2024/04/22 00:00:00(.000), with a zone that changes nothing at midnight (Z, +00:00, +08:00).
_DATE = re.compile(
    r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})"
    r"(?:[T ]00:00(?::00(?:\.0+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?$"
)


def read_date(value):
    """``value`` as an ISO date (``2024-04-22``) when it is a date written one of the ways above;
    otherwise ``value`` unchanged (the layer's own parsing then says what is wrong)."""
    if not isinstance(value, str):
        return value
    m = _DATE.match(value.strip())
    if not m:
        return value
    try:
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat()
    except ValueError:
        return value
