"""The public view of the map layers: what may leave Wuwei through open protocols.

Vector tiles (``/tiles``) and OGC API - Features (``/ogcapi``) publish only the layers
registered here, and of each only the properties listed here. Personal data never
appears (DESIGN.md, Security): no names of grid workers, no notes about residents, and
counts over people (households, residents' e-bikes) are withheld below 5 per building.
A layer another feature adds to :data:`app.basemap.layers.LAYERS` is not published until
that feature registers a :class:`PublicLayer` for it.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from app.basemap.layers import Layer, get_layer

# Counts over people are suppressed below this (DESIGN.md: "suppressed below 5 per cell").
MIN_PEOPLE_COUNT = 5


@dataclass(frozen=True)
class PublicProperty:
    """One published attribute: its name, SQL over the layer's table (aliased ``t``) and JSON type."""

    name: str
    sql: str
    type: str = "string"  # string, integer, number (also the type in tiles)
    in_tiles: bool = True  # per-feature subqueries stay out of tiles, where every byte counts
    filter: bool = False  # usable as ?name=value on OGC API items


@dataclass
class PublicLayer:
    """A layer as tiles and OGC API publish it."""

    name: str  # name of the layer in LAYERS
    properties: list[PublicProperty]
    description: str = ""
    time_column: str | None = None  # column that OGC API ``datetime`` filters
    min_zoom: int = 0  # tiles below this zoom are empty (204)
    # (table, zoom) → extra SQL conditions for tiles, e.g. no micro-grids on a district view.
    tile_filter: Callable | None = None
    extra: dict = field(default_factory=dict)

    @property
    def layer(self) -> Layer:
        return get_layer(self.name)

    def sql_properties(self, tiles: bool = False) -> dict[str, str]:
        """name → SQL of the published properties (for tiles: only those meant for tiles)."""
        return {p.name: p.sql for p in self.properties if p.in_tiles or not tiles}

    def property(self, name: str) -> PublicProperty | None:
        return next((p for p in self.properties if p.name == name), None)


PUBLIC_LAYERS: dict[str, PublicLayer] = {}


def register_public_layer(public: PublicLayer) -> PublicLayer:
    """Publish a registered layer through vector tiles and OGC API - Features."""
    if get_layer(public.name) is None:
        raise ValueError(f"no layer {public.name!r} in app.basemap.layers.LAYERS")
    PUBLIC_LAYERS[public.name] = public
    return public


def get_public_layer(name: str) -> PublicLayer | None:
    """The public view of layer ``name``, or None when it is not published."""
    public = PUBLIC_LAYERS.get(name)
    return public if public is not None and public.layer is not None else None


def _col(name: str, type_: str = "string", **kw) -> PublicProperty:
    return PublicProperty(name, f"t.{name}", type_, **kw)


def _suppressed(name: str) -> PublicProperty:
    # Cast keeps the MVT/JSON type an integer; NULL when the count could single out a household.
    return PublicProperty(name, f"CASE WHEN t.{name} >= {MIN_PEOPLE_COUNT} THEN t.{name} END", "integer")


_GRID_CODE = PublicProperty("grid_code", "(SELECT g.code FROM areas g WHERE g.id = t.grid_id)", in_tiles=False)
_COMPOUND = PublicProperty("compound", "(SELECT c.name FROM compounds c WHERE c.id = t.compound_id)", in_tiles=False)
# Areas: never ``workers`` (the names of grid workers).
_AREA_PROPS = [
    _col("level", filter=True),
    _col("code"),
    _col("name"),
    PublicProperty("parent_code", "(SELECT p.code FROM areas p WHERE p.id = t.parent_id)"),
    PublicProperty(
        "area_km2", "round((ST_Area(t.geom::geography) / 1e6)::numeric, 3)::float8", "number", in_tiles=False
    ),
]

# Smallest zoom at which each level of the area hierarchy is drawn in tiles: a district view
# would otherwise carry thousands of grid and micro-grid polygons.
AREA_LEVEL_MIN_ZOOM = {"city": 0, "district": 0, "street": 10, "community": 11, "grid": 12, "micro_grid": 14}


def _area_levels_for_zoom(t, z: int) -> list:
    return [t.c.level.in_([lvl for lvl, mz in AREA_LEVEL_MIN_ZOOM.items() if z >= mz])]


register_public_layer(
    PublicLayer("areas", _AREA_PROPS, "行政区域：区、街道、社区、网格、微网格", tile_filter=_area_levels_for_zoom)
)
register_public_layer(
    PublicLayer("grids", _AREA_PROPS, "网格与微网格 (DB11/T 2157 编码)", min_zoom=12, tile_filter=_area_levels_for_zoom)
)
register_public_layer(
    PublicLayer(
        "compounds",
        [
            _col("name"),
            _col("address"),
            _col("property_company_id", "integer", filter=True),
            PublicProperty(
                "property_company",
                "(SELECT p.name FROM property_companies p WHERE p.id = t.property_company_id)",
                in_tiles=False,
            ),
            _GRID_CODE,
        ],
        "小区/院落及其物业公司",
        min_zoom=12,
    )
)
# Buildings: never ``charging_note`` (free text about residents); household and e-bike counts
# only from 5 up.
register_public_layer(
    PublicLayer(
        "buildings",
        [
            _col("name"),
            _col("address"),
            _col("floors", "integer"),
            _suppressed("households"),
            _suppressed("ebikes"),
            _col("compound_id", "integer", filter=True),
            _COMPOUND,
            _GRID_CODE,
        ],
        "楼栋（户数、电动车数少于 5 不公开）",
        min_zoom=14,
    )
)
register_public_layer(
    PublicLayer(
        "chargers",
        [
            _col("name"),
            _col("ports", "integer"),
            PublicProperty("power_kw", "t.power_kw::float8", "number"),
            _col("status", filter=True),
            _col("compound_id", "integer", filter=True),
            PublicProperty("installed_on", "t.installed_on::text"),
            _col("operator"),
            _COMPOUND,
            _GRID_CODE,
        ],
        "电动自行车充电桩",
        time_column="installed_on",
        min_zoom=12,
    )
)
register_public_layer(
    PublicLayer(
        "bike-zones",
        [
            _col("name"),
            _col("capacity", "integer"),
            _col("kind", filter=True),
            _col("status", filter=True),
            _GRID_CODE,
        ],
        "非机动车停放区",
        min_zoom=12,
    )
)
