"""The demo data: real places and names from the seed page, at plausible places in Lanzhou.

Coordinates come from ``shared/seeds/places.md`` (good to about a kilometre);
polygons are drawn around them as rectangles that nest exactly, so that every
child lies inside its parent and sibling grids only share edges. Every step
looks its records up by a natural key first, so seeding twice adds nothing.
"""
import datetime as dt
from typing import Callable

from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, Point, box
from sqlalchemy import func, select

from app.areas.models import Area
from app.areas.services import create_area, get_area_by_code, set_grid_workers
from app.auth.models import User
from app.auth.services import create_user, find_user
from app.basemap.models import BikeZone, Building, Charger, Compound, PropertyCompany
from app.core.extensions import db
from app.core.registry import DEMO_STEPS

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
COMMUNITY_PREFIX = {"620103002001": "hls", "620102005003": "zjy", "620102010001": "yn", "620102011002": "sjt"}

DEMO_USERS = [
    dict(username="admin", password="wuwei-admin", role="admin", area=None, name="系统管理员"),
    dict(username="planner", password="wuwei-planner", role="planner", area="6201", name="街道规划 王规划"),
    dict(username="leader", password="wuwei-leader", role="leader", area="6201", name="领导 陈主任"),
    dict(username="xiyuan", password="wuwei-leader", role="leader", area="620103002", name="西园街道 赵书记"),
    dict(username="staff", password="wuwei-staff", role="staff", area="620103002001", name="华林山社区 周干事"),
    dict(username="liailan", password="wuwei-staff", role="staff", area="620103002001", name="调解员 李爱兰"),
    dict(username="zjystaff", password="wuwei-staff", role="staff", area="620102005003", name="张家园社区 秦琛"),
    dict(username="gridworker", password="wuwei-grid", role="grid_worker", area="620103002001001",
         name="网格员 马丽"),
    dict(username="patrol", password="wuwei-patrol", role="patrol", area="620102011002", name="巡查队员 李子琴"),
]

PROPERTY_COMPANIES = [
    ("兰州晟合物业有限责任公司", "model_unit", "文庭雅苑"),
    ("甘肃正盛物业管理物业有限公司", "member", "御景东方"),
    ("兰州建投物业有限公司", "member", "格林庭院"),
    # The page names three of the seven; these four stand for the other members (demo names).
    ("兰州雁滩安居物业有限公司", "member", "雁滩安居小区"),
    ("甘肃金诚物业服务有限公司", "member", "金诚花园"),
    ("兰州和美物业管理有限公司", "member", "和美家园"),
    ("兰州恒信物业有限公司", "member", "恒信雅居"),
]


def area_label(code: str | None) -> str:
    """A readable name for a demo area code (for printing logins)."""
    if code is None:
        return "全部 / everything"
    names = {a[0]: a[2] for a in AREAS}
    if code in names:
        return f"{names[code]} {code}"
    return f"{names.get(code[:12], '')}第{int(code[12:15])}网格 {code}"


def database_is_empty() -> bool:
    """No areas yet."""
    return db.session.scalar(select(func.count()).select_from(Area)) == 0


def _areas() -> int:
    added = 0
    for code, level, name, parent, bb in AREAS:
        if get_area_by_code(code) is None:
            create_area(level, code, name, mp(*bb), parent, commit=False)
            added += 1
    # Each community: 2 × 2 grids, each grid split into 2 micro-grids (west/east).
    for ccode in COMMUNITY_PREFIX:
        c = next(a for a in AREAS if a[0] == ccode)
        x0, y0, x1, y1 = c[4]
        xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
        cells = [(x0, ym, xm, y1), (xm, ym, x1, y1), (x0, y0, xm, ym), (xm, y0, x1, ym)]
        for i, (a, b, cc, d) in enumerate(cells, start=1):
            gcode = f"{ccode}{i:03d}"
            if get_area_by_code(gcode) is None:
                create_area("grid", gcode, f"{c[2]}第{i}网格", mp(a, b, cc, d), ccode, commit=False)
                added += 1
            mid = (a + cc) / 2
            for j, (p, q) in enumerate(((a, mid), (mid, cc)), start=1):
                mcode = f"{gcode}{j:03d}"
                if get_area_by_code(mcode) is None:
                    create_area("micro_grid", mcode, f"{c[2]}第{i}网格{'西' if j == 1 else '东'}微网格",
                                mp(p, b, q, d), gcode, commit=False)
                    added += 1
    db.session.flush()
    return added


def _users() -> int:
    added = 0
    for u in DEMO_USERS:
        if find_user(u["username"]) is None:
            create_user(u["username"], u["password"], u["role"], u["area"], u["name"])
            added += 1
    # One grid worker per grid: <community prefix><n>, e.g. hls1 … hls4.
    for ccode, prefix in COMMUNITY_PREFIX.items():
        for i in range(1, 5):
            gcode = f"{ccode}{i:03d}"
            username = "gridworker" if gcode == "620103002001001" else f"{prefix}{i}"
            user = find_user(username)
            if user is None:
                user = create_user(username, "wuwei-grid", "grid_worker", gcode, f"网格员 {prefix.upper()}{i}")
                added += 1
            grid = get_area_by_code(gcode)
            if user not in grid.workers:
                set_grid_workers(grid, list(grid.workers) + [user])
    db.session.flush()
    return added


def _company(name: str) -> PropertyCompany | None:
    return db.session.scalar(select(PropertyCompany).where(PropertyCompany.name == name))


def _compound(name: str) -> Compound | None:
    return db.session.scalar(select(Compound).where(Compound.name == name))


def _add_compound(name, bb, company=None, address=None) -> Compound:
    c = _compound(name)
    if c is None:
        c = Compound(name=name, address=address, geom=from_shape(mp(*bb), 4326),
                     property_company_id=company.id if company else None)
        db.session.add(c)
        db.session.flush()
    return c


def _add_building(name, bb, compound=None, floors=6, households=36, ebikes=None, address=None, note=None) -> int:
    exists = db.session.scalar(select(Building.id).where(Building.name == name))
    if exists:
        return 0
    db.session.add(Building(name=name, address=address, floors=floors, households=households, ebikes=ebikes,
                            charging_note=note, compound_id=compound.id if compound else None,
                            geom=from_shape(mp(*bb), 4326)))
    return 1


def _buildings_in(compound: Compound, bb, n: int, prefix: str, floors=6, households=36, ebikes=None) -> int:
    """``n`` slab buildings in a row inside ``bb``."""
    x0, y0, x1, y1 = bb
    w = (x1 - x0) / n
    added = 0
    for i in range(n):
        bx0 = x0 + i * w + w * 0.15
        added += _add_building(f"{prefix}{i + 1}号楼", (bx0, y0 + (y1 - y0) * 0.3, bx0 + w * 0.7, y0 + (y1 - y0) * 0.7),
                               compound, floors, households, ebikes, address=f"{compound.name}{i + 1}号楼")
    return added


def _basemap() -> int:
    added = 0
    for name, standing, _ in PROPERTY_COMPANIES:
        if _company(name) is None:
            db.session.add(PropertyCompany(
                name=name, alliance_standing=standing, standing_date=dt.date(2024, 4, 19),
                standing_note=("雁南街道“红色物业”示范单位" if standing == "model_unit"
                               else "雁南街道“红色物业”联盟成员单位"),
                contact_person="物业负责人", address="兰州市城关区雁南街道"))
            added += 1
    db.session.flush()

    # Yannan: the alliance companies' compounds, in a row across the demo community.
    for i, (cname, _, compound) in enumerate(PROPERTY_COMPANIES):
        x0 = 103.8770 + (i % 4) * 0.0036
        y0 = 36.0550 + (i // 4) * 0.0040
        bb = (x0, y0, x0 + 0.0030, y0 + 0.0030)
        c = _add_compound(compound, bb, _company(cname), f"城关区雁南街道{compound}")
        added += _buildings_in(c, bb, 3, compound, floors=18, households=108)

    # Hualinshan (华林山): Sanzhao Jiayuan, Youdian Lane compound, Jiujianlou, the Xijin East Road housing office.
    sz = _add_compound("三兆家园", (103.7800, 36.0485, 103.7840, 36.0520), None, "七里河区华林山三兆家园")
    added += _buildings_in(sz, (103.7800, 36.0485, 103.7840, 36.0520), 4, "三兆家园", floors=7, households=42)
    yd = _add_compound("邮电巷小区", (103.7860, 36.0440, 103.7895, 36.0470), None, "七里河区华林山邮电巷")
    added += _buildings_in(yd, (103.7860, 36.0440, 103.7895, 36.0470), 3, "邮电巷小区", floors=6, households=24)
    added += _add_building("九间楼", (103.7822, 36.0448, 103.7838, 36.0456), None, floors=3, households=9,
                           address="七里河区华林山九间楼", note="环境卫生无人清理（议事厅议题）")
    added += _add_building("西津东路房管所", (103.7880, 36.0505, 103.7892, 36.0512), None, floors=2, households=0,
                           address="七里河区西津东路房管所")

    # Zhangjiayuan (张家园): the old compounds that got 25 smart chargers.
    big = _add_compound("金昌南路大院子", (103.8340, 36.0470, 103.8370, 36.0500), None, "城关区金昌南路")
    small = _add_compound("金昌南路小院子", (103.8375, 36.0470, 103.8395, 36.0490), None, "城关区金昌南路")
    sat = _add_compound("三爱堂小区", (103.8345, 36.0510, 103.8375, 36.0530), None, "城关区三爱堂")
    rh = _add_compound("仁恒晶城小区", (103.8385, 36.0505, 103.8420, 36.0530), None, "城关区仁恒晶城")
    for comp, bb, n, eb in ((big, (103.8340, 36.0470, 103.8370, 36.0500), 4, 30),
                            (small, (103.8375, 36.0470, 103.8395, 36.0490), 2, 18),
                            (sat, (103.8345, 36.0510, 103.8375, 36.0530), 3, 25),
                            (rh, (103.8385, 36.0505, 103.8420, 36.0530), 4, 40)):
        added += _buildings_in(comp, bb, n, comp.name, floors=6, households=36, ebikes=eb)
    db.session.flush()
    for comp, count, x0, y0 in ((big, 8, 103.8342, 36.0472), (small, 5, 103.8377, 36.0472),
                                (sat, 6, 103.8347, 36.0512), (rh, 6, 103.8387, 36.0507)):
        for i in range(count):
            name = f"{comp.name}充电桩{i + 1:02d}"
            if db.session.scalar(select(Charger.id).where(Charger.name == name)) is None:
                db.session.add(Charger(name=name, ports=10, power_kw=0.8, status="installed", compound_id=comp.id,
                                       installed_on=dt.date(2024, 4, 22), operator="张家园社区智能充电项目",
                                       geom=from_shape(Point(x0 + i * 0.00025, y0), 4326)))
                added += 1
    planned = "张家园社区规划充电桩（待选址）"
    if db.session.scalar(select(Charger.id).where(Charger.name == planned)) is None:
        db.session.add(Charger(name=planned, ports=12, status="planned", operator="张家园社区",
                               geom=from_shape(Point(103.8355, 36.0460), 4326)))
        added += 1

    # Songjiatan (宋家滩村): designated bike-parking zones along the main roads and lanes.
    zones = [("宋家滩主干道东口停放区", 103.8905, 36.0785, 60, "shared_bike", "active"),
             ("宋家滩主干道西口停放区", 103.8925, 36.0785, 40, "shared_bike", "active"),
             ("宋家滩村委会门前停放区", 103.8950, 36.0750, 30, "mixed", "active"),
             ("宋家滩背街小巷停放区", 103.8975, 36.0720, 20, "shared_bike", "active"),
             ("宋家滩居民楼院电动车停放区", 103.8990, 36.0765, 25, "e_bike", "active"),
             ("宋家滩南口规划停放区", 103.8930, 36.0710, 50, "shared_bike", "planned")]
    for name, x, y, cap, kind, status in zones:
        if db.session.scalar(select(BikeZone.id).where(BikeZone.name == name)) is None:
            db.session.add(BikeZone(name=name, capacity=cap, kind=kind, status=status,
                                    geom=from_shape(mp(x, y, x + 0.0008, y + 0.0003), 4326)))
            added += 1
    # A few residential buildings in Songjiatan, for households and planning figures.
    sjt = _add_compound("宋家滩村居民楼院", (103.8960, 36.0740, 103.9000, 36.0775), None, "城关区宋家滩村")
    added += _buildings_in(sjt, (103.8960, 36.0740, 103.9000, 36.0775), 4, "宋家滩村", floors=5, households=30,
                           ebikes=20)
    db.session.flush()
    return added


def seed_demo() -> dict:
    """Load every demo step; returns rows added per step."""
    counts = {"areas": _areas(), "users": _users(), "basemap": _basemap()}
    db.session.commit()
    for step in DEMO_STEPS:
        counts[step.name] = step.run()
        db.session.commit()
    return counts
