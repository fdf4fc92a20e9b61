"""What the transfer endpoints take: the export's query string, the import's upload and report.

An export takes the list parameters of ``GET /api/v1/<layer>`` (bbox, paging, sort, text search,
area codes) and the layer's own filters, which depend on the layer: the model declares the common
ones, and :func:`list_args` checks the rest against the layer's fields.
"""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.basemap.layers import Layer
from app.basemap.schemas import list_kwargs
from app.core.errors import ApiError
from app.web.params import AreaCode, Bbox, Paging, Query, SearchText
from app.web.values import Flag
from gis import fileio

MAX_EXPORT = 1_000_000
FileFormat = Literal[tuple(fileio.FORMATS)]


class ExportQuery(Query, Paging):
    """The file format, the list parameters of ``GET /api/v1/<layer>``, and the layer's filters.

    Any other parameter must be a filter of the layer (``?status=planned,faulty``).
    """

    model_config = ConfigDict(extra="allow")

    format: FileFormat = "geojson"
    limit: Annotated[int, Field(ge=1, le=MAX_EXPORT)] = MAX_EXPORT
    bbox: Bbox | None = None
    sort: Annotated[str, Field(max_length=64, description="a sortable column; prefix - for descending")] = "id"
    q: SearchText | None = None
    area: AreaCode | None = None
    community: Annotated[str | None, Field(pattern="^[0-9]{12}$", description="a community's 12-digit code")] = None
    grid: Annotated[str | None, Field(pattern="^[0-9]{15}$", description="a grid's 15-digit code")] = None


class ImportQuery(Query):
    format: Annotated[FileFormat | None, Field(description="when the file's extension does not tell")] = None
    dry_run: Annotated[Flag, Field(description="check every row and write nothing (200, ImportPreview)")] = False


class ImportForm(BaseModel):
    """A GeoJSON, GeoPackage, Shapefile (zip), CSV (lon/lat or wkt) or KML file, and what the file does
    not say about itself."""

    file: bytes
    format: FileFormat | None = None
    crs: str | None = Field(None, description="wgs84 (also CGCS2000), gcj02 (高德/腾讯), bd09 (百度) or EPSG:<code>")
    encoding: str | None = Field(None, description="a Shapefile's text encoding, e.g. GBK (found out when left out)")
    mapping: str | None = Field(None, description='JSON {"file column": "field"}; "" leaves a column out')
    dry_run: bool | None = Field(None, description="as the query parameter")


class ImportReport(BaseModel):
    """What an import stored (every row, or nothing)."""

    layer: str
    format: str
    file: str | None
    rows: int
    imported: int
    ignored_columns: list[str]
    source_crs: str | None
    encoding: str | None = Field(None, description="a Shapefile's text encoding, when it had to be found out")


class ImportPreview(ImportReport):
    """A dry run: every row checked (parsed, and inserted in a savepoint rolled back), nothing written."""

    dry_run: bool
    valid: int = Field(description="rows that would be stored")
    refused: int = Field(description="rows that would be refused")
    errors: list[dict] = Field(description="refused rows: row, message, fields (the first 200)")
    columns: list[dict] = Field(description="each file column: name, the field it feeds, a sample value")
    mapping: dict[str, str]
    fields: list[dict] = Field(description="the layer's writable fields: name, label, kind, required")
    preview: dict = Field(description="a FeatureCollection of the first 2,000 rows (_row, _error)")
    options: dict


class ImportProgress(BaseModel):
    done: int = Field(description="rows checked so far")
    total: int | None = Field(description="rows in the file")


class ImportJobOut(BaseModel):
    """An import running as a background job (a file of more than ``WUWEI_IMPORT_SYNC_MAX_FEATURES``
    features): its state, its progress, and how it ended — the report when ``done``; when
    ``failed``, the error as the request would have answered it: ``status`` (422, 403 …), ``code``,
    ``message``, ``fields``, and ``rows`` listing the refused rows (nothing is stored then)."""

    id: int
    layer: str
    file: str
    format: str
    state: Literal["queued", "running", "done", "failed"]
    phase: Literal["reading", "checking", "storing"] | None
    progress: ImportProgress
    created_at: str
    started_at: str | None
    finished_at: str | None
    status_url: str
    report: ImportReport | None = None
    error: dict | None = None


def _filters(layer: Layer, extra: dict) -> dict:
    names = {f.name for f in layer.fields if f.filter}
    unknown = set(extra) - names
    if unknown:
        raise ApiError(
            400,
            f"unknown parameter(s): {', '.join(sorted(unknown))}; "
            f"filters for {layer.name}: {', '.join(sorted(names)) or 'none'}",
            {n: "unknown parameter" for n in unknown},
        )
    filters = {}
    for name, raw in extra.items():
        field = layer.field(name)
        values = []
        for value in raw if isinstance(raw, list) else [raw]:
            for part in value.split(","):
                try:
                    values.append(field.parse(part))
                except ValueError as e:
                    raise ApiError(400, f"{name}={part!r}: {e}", {name: str(e)}) from None
        filters[name] = values
    return filters


def list_args(layer: Layer, query: ExportQuery) -> dict:
    """Keyword arguments of :func:`app.basemap.services.list_features` for ``query`` on ``layer``; 400 when
    a parameter is not one of the layer's filters, a filter value does not parse or the sort is unknown."""
    filters = _filters(layer, query.model_extra or {})
    for code in (query.area, query.community, query.grid):
        if code is not None:
            filters["area"] = code
    if query.sort.lstrip("-") not in layer.sortable:
        raise ApiError(
            400, f"sort must be one of {', '.join(layer.sortable)} (prefix - for descending)", {"sort": "unknown"}
        )
    return list_kwargs(query, filters)
