"""The demo base map: the 红色物业 alliance, compounds, buildings, chargers and bike-parking zones.

Real names from the seed page at plausible places in Lanzhou, inside the demo areas
(:mod:`app.areas.demo`). Every record is looked up by name first, so seeding twice adds nothing.
"""

import datetime as dt

from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import select

from app.areas.demo import mp
from app.basemap.models import BikeZone, Building, Charger, Compound, PropertyCompany
from app.core.extensions import db

# company, standing in the alliance, its compound
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
# Songjiatan (宋家滩村): designated bike-parking zones along the main roads and lanes.
BIKE_ZONES = [
    ("宋家滩主干道东口停放区", 103.8905, 36.0785, 60, "shared_bike", "active"),
    ("宋家滩主干道西口停放区", 103.8925, 36.0785, 40, "shared_bike", "active"),
    ("宋家滩村委会门前停放区", 103.8950, 36.0750, 30, "mixed", "active"),
    ("宋家滩背街小巷停放区", 103.8975, 36.0720, 20, "shared_bike", "active"),
    ("宋家滩居民楼院电动车停放区", 103.8990, 36.0765, 25, "e_bike", "active"),
    ("宋家滩南口规划停放区", 103.8930, 36.0710, 50, "shared_bike", "planned"),
]


def _company(name: str) -> PropertyCompany | None:
    return db.session.scalar(select(PropertyCompany).where(PropertyCompany.name == name))


def _compound(name: str) -> Compound | None:
    return db.session.scalar(select(Compound).where(Compound.name == name))


def _add_compound(name, bb, company=None, address=None) -> Compound:
    c = _compound(name)
    if c is None:
        c = Compound(
            name=name,
            address=address,
            geom=from_shape(mp(*bb), 4326),
            property_company_id=company.id if company else None,
        )
        db.session.add(c)
        db.session.flush()
    return c


def _add_building(name, bb, compound=None, floors=6, households=36, ebikes=None, address=None, note=None) -> int:
    exists = db.session.scalar(select(Building.id).where(Building.name == name))
    if exists:
        return 0
    db.session.add(
        Building(
            name=name,
            address=address,
            floors=floors,
            households=households,
            ebikes=ebikes,
            charging_note=note,
            compound_id=compound.id if compound else None,
            geom=from_shape(mp(*bb), 4326),
        )
    )
    return 1


def _buildings_in(compound: Compound, bb, n: int, prefix: str, floors=6, households=36, ebikes=None) -> int:
    """``n`` slab buildings in a row inside ``bb``."""
    x0, y0, x1, y1 = bb
    w = (x1 - x0) / n
    added = 0
    for i in range(n):
        bx0 = x0 + i * w + w * 0.15
        added += _add_building(
            f"{prefix}{i + 1}号楼",
            (bx0, y0 + (y1 - y0) * 0.3, bx0 + w * 0.7, y0 + (y1 - y0) * 0.7),
            compound,
            floors,
            households,
            ebikes,
            address=f"{compound.name}{i + 1}号楼",
        )
    return added


def _alliance() -> int:
    """Yannan: the alliance companies and their compounds, in a row across the demo community."""
    added = 0
    for name, standing, _ in PROPERTY_COMPANIES:
        if _company(name) is None:
            db.session.add(
                PropertyCompany(
                    name=name,
                    alliance_standing=standing,
                    standing_date=dt.date(2024, 4, 19),
                    standing_note=(
                        "雁南街道“红色物业”示范单位" if standing == "model_unit" else "雁南街道“红色物业”联盟成员单位"
                    ),
                    contact_person="物业负责人",
                    address="兰州市城关区雁南街道",
                )
            )
            added += 1
    db.session.flush()
    for i, (cname, _, compound) in enumerate(PROPERTY_COMPANIES):
        x0 = 103.8770 + (i % 4) * 0.0036
        y0 = 36.0550 + (i // 4) * 0.0040
        bb = (x0, y0, x0 + 0.0030, y0 + 0.0030)
        c = _add_compound(compound, bb, _company(cname), f"城关区雁南街道{compound}")
        added += _buildings_in(c, bb, 3, compound, floors=18, households=108)
    return added


def _hualinshan() -> int:
    """Hualinshan (华林山): Sanzhao Jiayuan, Youdian Lane compound, Jiujianlou, the Xijin East Road housing office."""
    sz = _add_compound("三兆家园", (103.7800, 36.0485, 103.7840, 36.0520), None, "七里河区华林山三兆家园")
    added = _buildings_in(sz, (103.7800, 36.0485, 103.7840, 36.0520), 4, "三兆家园", floors=7, households=42)
    yd = _add_compound("邮电巷小区", (103.7860, 36.0440, 103.7895, 36.0470), None, "七里河区华林山邮电巷")
    added += _buildings_in(yd, (103.7860, 36.0440, 103.7895, 36.0470), 3, "邮电巷小区", floors=6, households=24)
    added += _add_building(
        "九间楼",
        (103.7822, 36.0448, 103.7838, 36.0456),
        None,
        floors=3,
        households=9,
        address="七里河区华林山九间楼",
        note="环境卫生无人清理（议事厅议题）",
    )
    added += _add_building(
        "西津东路房管所",
        (103.7880, 36.0505, 103.7892, 36.0512),
        None,
        floors=2,
        households=0,
        address="七里河区西津东路房管所",
    )
    return added


def _zhangjiayuan() -> int:
    """Zhangjiayuan (张家园): the old compounds that got 25 smart chargers, and one planned charger."""
    added = 0
    # name, box, address, buildings, e-bikes per building, chargers, where the row of chargers starts
    compounds = [
        ("金昌南路大院子", (103.8340, 36.0470, 103.8370, 36.0500), "城关区金昌南路", 4, 30, 8, (103.8342, 36.0472)),
        ("金昌南路小院子", (103.8375, 36.0470, 103.8395, 36.0490), "城关区金昌南路", 2, 18, 5, (103.8377, 36.0472)),
        ("三爱堂小区", (103.8345, 36.0510, 103.8375, 36.0530), "城关区三爱堂", 3, 25, 6, (103.8347, 36.0512)),
        ("仁恒晶城小区", (103.8385, 36.0505, 103.8420, 36.0530), "城关区仁恒晶城", 4, 40, 6, (103.8387, 36.0507)),
    ]
    made = [
        (_add_compound(name, bb, None, address), bb, n, eb, chargers, start)
        for name, bb, address, n, eb, chargers, start in compounds
    ]
    for comp, bb, n, eb, _, _ in made:
        added += _buildings_in(comp, bb, n, comp.name, floors=6, households=36, ebikes=eb)
    db.session.flush()
    for comp, _, _, _, count, (x0, y0) in made:
        for i in range(count):
            name = f"{comp.name}充电桩{i + 1:02d}"
            if db.session.scalar(select(Charger.id).where(Charger.name == name)) is None:
                db.session.add(
                    Charger(
                        name=name,
                        ports=10,
                        power_kw=0.8,
                        status="installed",
                        compound_id=comp.id,
                        installed_on=dt.date(2024, 4, 22),
                        operator="张家园社区智能充电项目",
                        geom=from_shape(Point(x0 + i * 0.00025, y0), 4326),
                    )
                )
                added += 1
    # Old compounds still without chargers (demo stand-ins for the community's other 老旧小区): the e-bike
    # survey finds cables hung down stairwells and bikes carried upstairs here (app.planning.demo).
    for name, bb, n in (
        ("张家园老旧小区东片", (103.8400, 36.0462, 103.8428, 36.0498), 4),
        ("张家园老旧小区南片", (103.8340, 36.0452, 103.8395, 36.0467), 3),
    ):
        old = _add_compound(name, bb, None, f"城关区酒泉路街道{name}")
        added += _buildings_in(old, bb, n, name, floors=6, households=36)
    planned = "张家园社区规划充电桩（待选址）"
    if db.session.scalar(select(Charger.id).where(Charger.name == planned)) is None:
        db.session.add(
            Charger(
                name=planned,
                ports=12,
                status="planned",
                operator="张家园社区",
                geom=from_shape(Point(103.8355, 36.0460), 4326),
            )
        )
        added += 1
    return added


def _songjiatan() -> int:
    """Songjiatan (宋家滩村): the bike-parking zones, and residential buildings for households and figures."""
    added = 0
    for name, x, y, cap, kind, status in BIKE_ZONES:
        if db.session.scalar(select(BikeZone.id).where(BikeZone.name == name)) is None:
            db.session.add(
                BikeZone(
                    name=name,
                    capacity=cap,
                    kind=kind,
                    status=status,
                    geom=from_shape(mp(x, y, x + 0.0008, y + 0.0003), 4326),
                )
            )
            added += 1
    sjt = _add_compound("宋家滩村居民楼院", (103.8960, 36.0740, 103.9000, 36.0775), None, "城关区宋家滩村")
    added += _buildings_in(
        sjt, (103.8960, 36.0740, 103.9000, 36.0775), 4, "宋家滩村", floors=5, households=30, ebikes=20
    )
    return added


def seed_basemap() -> int:
    """The demo base map; returns how many rows it added."""
    added = _alliance() + _hualinshan() + _zhangjiayuan() + _songjiatan()
    db.session.flush()
    return added
