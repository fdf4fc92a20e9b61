"""The demo's area hierarchy: real places from the seed page, at plausible places in Lanzhou.

Coordinates come from ``shared/seeds/places.md`` (good to about a kilometre); polygons are drawn
around them as rectangles that nest exactly, so that every child lies inside its parent and
sibling grids only share edges. Areas are looked up by code first, so seeding twice adds nothing.
Other features' demo steps place their records with :data:`AREAS` and :func:`mp`.
"""

from shapely.geometry import MultiPolygon, box

from app.areas.services import create_area, get_area_by_code
from app.core.extensions import db


def mp(x0, y0, x1, y1) -> MultiPolygon:
    """A rectangle as a MultiPolygon."""
    return MultiPolygon([box(x0, y0, x1, y1)])


# code, level, name, parent code, (minLon, minLat, maxLon, maxLat)
AREAS = [
    ("6201", "city", "兰州市", None, (103.70, 36.00, 103.95, 36.10)),
    ("620103", "district", "七里河区", "6201", (103.74, 36.02, 103.815, 36.08)),
    ("620103002", "street", "西园街道", "620103", (103.775, 36.038, 103.805, 36.065)),
    ("620103002001", "community", "华林山社区", "620103002", (103.779, 36.043, 103.791, 36.053)),
    ("620102", "district", "城关区", "6201", (103.815, 36.02, 103.93, 36.095)),
    ("620102005", "street", "酒泉路街道", "620102", (103.825, 36.040, 103.850, 36.065)),
    ("620102005003", "community", "张家园社区", "620102005", (103.833, 36.045, 103.843, 36.054)),
    ("620102010", "street", "雁南街道", "620102", (103.868, 36.050, 103.910, 36.066)),
    ("620102010001", "community", "雁南红色物业示范片区", "620102010", (103.876, 36.054, 103.892, 36.063)),
    ("620102011", "street", "雁北街道", "620102", (103.868, 36.066, 103.912, 36.086)),
    ("620102011002", "community", "宋家滩村社区", "620102011", (103.889, 36.070, 103.901, 36.080)),
]
# The demo communities, each split into 2 × 2 grids; the prefix names their grid workers (hls1 …).
COMMUNITY_PREFIX = {"620103002001": "hls", "620102005003": "zjy", "620102010001": "yn", "620102011002": "sjt"}


def area_label(code: str | None) -> str:
    """A readable name for a demo area code (for printing logins)."""
    if code is None:
        return "全部 / everything"
    names = {a[0]: a[2] for a in AREAS}
    if code in names:
        return f"{names[code]} {code}"
    return f"{names.get(code[:12], '')}第{int(code[12:15])}网格 {code}"


def grid_cells(community_code: str) -> list[tuple[float, float, float, float]]:
    """The four grid rectangles of a demo community: north-west, north-east, south-west, south-east."""
    x0, y0, x1, y1 = next(a[4] for a in AREAS if a[0] == community_code)
    xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
    return [(x0, ym, xm, y1), (xm, ym, x1, y1), (x0, y0, xm, ym), (xm, y0, x1, ym)]


def _add(level: str, code: str, name: str, bb, parent: str | None) -> int:
    if get_area_by_code(code) is not None:
        return 0
    create_area(level, code, name, mp(*bb), parent, commit=False)
    return 1


def seed_areas() -> int:
    """The demo areas, and in each demo community 2 × 2 grids of 2 micro-grids (west/east)."""
    added = sum(_add(level, code, name, bb, parent) for code, level, name, parent, bb in AREAS)
    for ccode in COMMUNITY_PREFIX:
        cname = next(a[2] for a in AREAS if a[0] == ccode)
        for i, (a, b, c, d) in enumerate(grid_cells(ccode), start=1):
            gcode = f"{ccode}{i:03d}"
            added += _add("grid", gcode, f"{cname}第{i}网格", (a, b, c, d), ccode)
            mid = (a + c) / 2
            for j, (p, q) in enumerate(((a, mid), (mid, c)), start=1):
                added += _add(
                    "micro_grid",
                    f"{gcode}{j:03d}",
                    f"{cname}第{i}网格{'西' if j == 1 else '东'}微网格",
                    (p, b, q, d),
                    gcode,
                )
    db.session.flush()
    return added
