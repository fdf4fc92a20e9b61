"""The map layers served by the generic GeoJSON API, tiles and the map page.

A :class:`Layer` says which table holds a layer, which attributes it exposes
and accepts, who may edit it (a permission of :mod:`app.auth.policy`) and how a
user's area limits it. Each layer gets its own documented routes under
``/api/v1/<name>`` (:mod:`app.basemap.api`), built when that module is imported:
a feature adding a layer with :func:`register_layer` does so before.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l

from app.areas.models import LEVELS
from app.areas.services import validate_area_write
from app.basemap.fields import Field
from app.basemap.models import (
    ALLIANCE_STANDINGS,
    BIKE_ZONE_KINDS,
    BIKE_ZONE_STATUSES,
    CHARGER_STATUSES,
)
from app.core.errors import ApiError


@dataclass
class Layer:
    """How one table is exposed as a GeoJSON collection."""

    name: str  # URL slug: /api/v1/<name>
    table: str
    title: object
    geom_type: str | None  # "Point", "MultiPolygon", … or None for plain records
    fields: list[Field]
    edit_permission: str = "layers.edit"  # who may create, change and delete features
    scope: str = "grid"  # "grid": by grid_id/geom; "area": the areas table; "none": all users
    base_where: str | None = None  # a fixed SQL condition over the table aliased "t" (no user input)
    style: dict = field(default_factory=dict)
    min_zoom: int = 0
    # Read-only properties computed in SQL: name → SQL expression over the table aliased "t".
    computed: dict[str, str] = field(default_factory=dict)
    # Extra rules before insert/update: (values, geometry, row_id) → values; raise ApiError to refuse.
    before_write: Callable | None = None
    sortable: tuple[str, ...] = ("id", "name")
    searchable: str | None = "name"  # column for ?q=

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)


LAYERS: dict[str, Layer] = {}


def register_layer(layer: Layer) -> Layer:
    """Make a layer available under ``/api/v1/<name>`` (and to the map page)."""
    LAYERS[layer.name] = layer
    return layer


def get_layer(name: str) -> Layer | None:
    """The registered layer called ``name``."""
    return LAYERS.get(name)


_GRID_CODE = "(SELECT g.code FROM areas g WHERE g.id = t.grid_id)"
_GRID_NAME = "(SELECT g.name FROM areas g WHERE g.id = t.grid_id)"
_COMPOUND_NAME = "(SELECT c.name FROM compounds c WHERE c.id = t.compound_id)"


def _grid_rules(values, geom, row_id):
    """``/grids`` holds grids and micro-grids only; other levels belong to ``/areas``."""
    if "level" in values and values["level"] not in ("grid", "micro_grid"):
        raise ApiError(
            422,
            "the grids layer holds grids and micro-grids; use /api/v1/areas for other levels",
            {"level": "must be grid or micro_grid"},
        )
    return validate_area_write(values, geom, row_id)


_AREA_FIELDS = [
    Field(
        "level",
        "enum",
        required=True,
        choices=LEVELS,
        filter=True,
        label="city/district/street/community/grid/micro_grid",
    ),
    Field("code", "str", required=True, max_len=18, label="DB11/T 2157 code"),
    Field("name", "str", required=True, max_len=128),
    Field("parent_code", "str", max_len=18, column="parent_code", label="code of the parent area"),
    Field("note", "text"),
]
_AREA_COMPUTED = {
    "parent_code": "(SELECT p.code FROM areas p WHERE p.id = t.parent_id)",
    "workers": "(SELECT coalesce(string_agg(u.display_name, '、' ORDER BY u.display_name), '')"
    " FROM grid_workers w JOIN users u ON u.id = w.user_id WHERE w.area_id = t.id)",
    "area_km2": "round((ST_Area(t.geom::geography) / 1e6)::numeric, 3)",
}

register_layer(
    Layer(
        "areas",
        "areas",
        _l("行政区域"),
        "MultiPolygon",
        _AREA_FIELDS,
        scope="area",
        style={"color": "#7c3aed", "weight": 2, "fillOpacity": 0.03},
        computed=_AREA_COMPUTED,
        before_write=validate_area_write,
        sortable=("id", "name", "code", "level"),
    )
)
register_layer(
    Layer(
        "grids",
        "areas",
        _l("网格"),
        "MultiPolygon",
        _AREA_FIELDS,
        scope="area",
        base_where="t.level IN ('grid', 'micro_grid')",
        style={"color": "#b42318", "weight": 2, "fillOpacity": 0.06},
        computed=_AREA_COMPUTED,
        before_write=_grid_rules,
        sortable=("id", "name", "code"),
    )
)
register_layer(
    Layer(
        "property-companies",
        "property_companies",
        _l("物业公司"),
        None,
        [
            Field("name", "str", required=True, max_len=128),
            Field("contact_person", "str", max_len=64),
            Field("phone", "str", max_len=32),
            Field("address", "str", max_len=256),
            Field(
                "alliance_standing",
                "enum",
                choices=ALLIANCE_STANDINGS,
                filter=True,
                label="红色物业联盟: model_unit / member / none",
            ),
            Field("standing_date", "date"),
            Field("standing_note", "text"),
        ],
        scope="none",
        sortable=("id", "name", "alliance_standing"),
    )
)
register_layer(
    Layer(
        "compounds",
        "compounds",
        _l("小区/院落"),
        "MultiPolygon",
        [
            Field("name", "str", required=True, max_len=128, filter=False),
            Field("address", "str", max_len=256),
            Field("property_company_id", "ref", ref="property_companies", filter=True),
        ],
        style={"color": "#2563eb", "weight": 1.5, "fillOpacity": 0.12},
        computed={
            "grid_code": _GRID_CODE,
            "grid_name": _GRID_NAME,
            "property_company": "(SELECT p.name FROM property_companies p WHERE p.id = t.property_company_id)",
            "alliance_standing": "(SELECT p.alliance_standing FROM property_companies p"
            " WHERE p.id = t.property_company_id)",
        },
    )
)
register_layer(
    Layer(
        "buildings",
        "buildings",
        _l("楼栋"),
        "MultiPolygon",
        [
            Field("name", "str", max_len=128),
            Field("address", "str", max_len=256),
            Field("floors", "int", min=1, max=200),
            Field("households", "int", min=0, max=100000),
            Field("ebikes", "int", min=0, max=100000, label="电动车摸排: e-bikes kept by residents"),
            Field("charging_note", "text"),
            Field("compound_id", "ref", ref="compounds", filter=True),
        ],
        style={"color": "#92400e", "weight": 1, "fillColor": "#f59e0b", "fillOpacity": 0.45},
        min_zoom=14,
        computed={"grid_code": _GRID_CODE, "grid_name": _GRID_NAME, "compound": _COMPOUND_NAME},
        sortable=("id", "name", "households", "floors"),
    )
)
register_layer(
    Layer(
        "chargers",
        "chargers",
        _l("充电桩"),
        "Point",
        [
            Field("name", "str", max_len=128),
            Field("ports", "int", required=True, min=1, max=200),
            Field("power_kw", "float", min=0.1, max=1000),
            Field("status", "enum", required=True, choices=CHARGER_STATUSES, filter=True),
            Field("compound_id", "ref", ref="compounds", filter=True),
            Field("installed_on", "date"),
            Field("operator", "str", max_len=128),
        ],
        style={"color": "#047857", "radius": 6},
        computed={"grid_code": _GRID_CODE, "grid_name": _GRID_NAME, "compound": _COMPOUND_NAME},
        sortable=("id", "name", "status", "ports", "installed_on"),
    )
)
register_layer(
    Layer(
        "bike-zones",
        "bike_zones",
        _l("非机动车停放区"),
        "MultiPolygon",
        [
            Field("name", "str", max_len=128),
            Field("capacity", "int", required=True, min=0, max=100000),
            Field("kind", "enum", required=True, choices=BIKE_ZONE_KINDS, filter=True),
            Field("status", "enum", required=True, choices=BIKE_ZONE_STATUSES, filter=True),
        ],
        style={"color": "#0891b2", "weight": 2, "fillOpacity": 0.35},
        computed={"grid_code": _GRID_CODE, "grid_name": _GRID_NAME},
        sortable=("id", "name", "capacity", "status"),
    )
)
