"""What a user says about a file to import, beyond the file itself: the coordinate system of its
numbers, the encoding of a Shapefile's text, and which column feeds which field.

Sent as form fields of the upload (``crs``, ``encoding``, ``mapping``), kept with a queued job
(``import_jobs.options``) so that the worker imports the file as it was checked.
"""

import codecs
import json
from dataclasses import asdict, dataclass, field

from app.basemap.layers import Layer
from app.core.errors import ApiError
from gis import coords
from gis.fileio import ReadOptions


@dataclass(frozen=True)
class ImportOptions:
    """``system``: ``wgs84``, ``gcj02``, ``bd09`` or ``EPSG:<code>`` (None: as the file says);
    ``encoding`` of a Shapefile's text (None: found out); ``mapping``: file column → field name,
    ``""`` to leave a column out (columns not named are matched by name, :func:`app.transfer.services.map_columns`)."""

    system: str | None = None
    encoding: str | None = None
    mapping: dict[str, str] = field(default_factory=dict)

    def reading(self) -> ReadOptions:
        return ReadOptions(system=self.system, encoding=self.encoding)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict | None) -> "ImportOptions":
        return cls(**data) if data else cls()


DEFAULT = ImportOptions()


def parse(layer: Layer, crs: str | None, encoding: str | None, mapping: str | None) -> ImportOptions:
    """Options from the upload's form fields; 422 naming the field that is wrong."""
    try:
        system = coords.parse_system(crs)
    except coords.CoordinateSystemError as e:
        raise ApiError(422, str(e), {"crs": str(e)}) from None
    enc = (encoding or "").strip() or None
    if enc is not None:
        if enc.lower() in ("gbk", "gb2312", "cp936"):
            enc = "GB18030"  # a superset: a GBK file reads the same, and rarer characters too
        try:
            enc = codecs.lookup(enc).name  # GDAL knows Python's canonical names (iso8859-1, gb18030, utf-8)
        except LookupError:
            raise ApiError(
                422, f"unknown text encoding {encoding!r}; e.g. UTF-8 or GBK", {"encoding": "unknown"}
            ) from None
    return ImportOptions(system, enc, _mapping(layer, mapping))


def _mapping(layer: Layer, text: str | None) -> dict[str, str]:
    if not text or not text.strip():
        return {}
    try:
        mapping = json.loads(text)
    except ValueError:
        mapping = None
    if not isinstance(mapping, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
        raise ApiError(
            422,
            'mapping must be a JSON object {"file column": "field"} ("" leaves a column out)',
            {"mapping": "not an object of texts"},
        )
    writable = {f.name for f in layer.fields if f.writable}
    unknown = sorted({v for v in mapping.values() if v and v not in writable})
    if unknown:
        raise ApiError(
            422,
            f"mapping: {layer.name} has no field {', '.join(unknown)}",
            {"mapping": f"unknown field(s) {', '.join(unknown)}"},
        )
    targets = [v for v in mapping.values() if v]
    twice = sorted({v for v in targets if targets.count(v) > 1})
    if twice:
        raise ApiError(
            422, f"mapping: {', '.join(twice)} fed by more than one column", {"mapping": f"{', '.join(twice)} twice"}
        )
    return mapping
