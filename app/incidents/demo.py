"""Demo incidents: the category tree with departments and deadlines, the seed story's two incidents
(the Xijin East Road sewage overflow through the 幸福号 hotline, checked on site by Li Ailan; the 九间楼
courtyard nobody cleans) up to being filed, and ~30 varied incidents.

The rest of the story (the round-table council, the repair, the check and the close) is told by
:mod:`app.consultations.demo`; the hotline's Open311 key by :mod:`app.open311.demo`.
"""

import datetime as dt

from geoalchemy2.shape import to_shape
from sqlalchemy import select

from app.areas.models import Area, grid_workers
from app.areas.services import get_area_by_code
from app.auth.models import User
from app.auth.policy import Scope
from app.auth.services import find_user
from app.basemap.models import PropertyCompany
from app.core.extensions import db
from app.core.time import TZ, now
from app.incidents.models import Department, Incident, IncidentCategory
from app.incidents.services import organisation_for, report_incident, set_members, transition
from app.incidents.services.organisations import member_ids
from app.incidents.services.tell import NEW, OVERDUE, UNSATISFIED
from app.notices.settings import save_settings, setting_of, subscribe, subscriptions

EVERYTHING = Scope(everything=True)

DEPARTMENTS = [
    ("urban", "街道城管执法队", "Street urban-management team", "0931-8000001"),
    ("drainage", "区排水管理所", "District drainage office", "0931-8000002"),
    ("sanitation", "区环卫所", "District sanitation office", "0931-8000003"),
    ("housing", "西津东路房管所", "Xijin East Road housing office", "0931-8000004"),
    ("traffic", "交警大队/共享单车运营", "Traffic police and bike operators", "0931-8000005"),
    ("fire", "消防救援站", "Fire and rescue station", "0931-8000006"),
    ("community", "社区居委会", "Community committee", "0931-8000007"),
]

# code, name, English, parent, department code, deadlines (hours per stage), Open311 attributes
CATEGORIES = [
    ("env", "环境卫生", "Environment and sanitation", None, "sanitation", {}, []),
    (
        "env.litter",
        "垃圾杂物堆放",
        "Litter and dumped rubbish",
        "env",
        "sanitation",
        {"reported": 2, "filed": 4, "dispatched": 12, "in_progress": 24, "responded": 12},
        [],
    ),
    (
        "env.uncleaned",
        "卫生死角无人清扫",
        "Area nobody cleans",
        "env",
        "sanitation",
        {"reported": 4, "filed": 8, "dispatched": 24, "in_progress": 72, "responded": 24, "consultation": 336},
        [],
    ),
    ("drainage", "排水设施", "Drainage", None, "drainage", {}, []),
    (
        "drainage.sewage",
        "污水外溢",
        "Sewage overflow",
        "drainage",
        "drainage",
        {"reported": 1, "filed": 2, "dispatched": 4, "in_progress": 48, "responded": 12, "consultation": 240},
        [],
    ),
    (
        "drainage.manhole",
        "井盖缺失破损",
        "Missing or broken manhole cover",
        "drainage",
        "drainage",
        {"reported": 1, "filed": 1, "dispatched": 2, "in_progress": 8, "responded": 4},
        [],
    ),
    (
        "parking",
        "违法停车",
        "Illegal parking",
        None,
        "urban",
        {"reported": 1, "filed": 2, "dispatched": 4, "in_progress": 8, "responded": 4},
        [],
    ),
    ("bikes", "共享单车", "Shared bikes", None, "traffic", {}, []),
    (
        "bikes.misparked",
        "共享单车乱停放",
        "Shared bikes parked anywhere",
        "bikes",
        "traffic",
        {"reported": 2, "filed": 4, "dispatched": 8, "in_progress": 24, "responded": 8},
        [
            {
                "code": "bike_count",
                "description": "大约几辆车 / about how many bikes",
                "datatype": "number",
                "required": False,
                "order": 1,
            },
            {
                "code": "operator",
                "description": "运营企业 / operator",
                "datatype": "singlevaluelist",
                "required": False,
                "order": 2,
                "values": [
                    {"key": "hello", "name": "哈啰"},
                    {"key": "meituan", "name": "美团"},
                    {"key": "qingju", "name": "青桔"},
                    {"key": "other", "name": "其他"},
                ],
            },
        ],
    ),
    ("ebike", "电动车充电隐患", "E-bike charging hazard", None, "fire", {}, []),
    (
        "ebike.flying_wire",
        "飞线充电",
        "Charging cable run from a flat",
        "ebike",
        "fire",
        {"reported": 1, "filed": 2, "dispatched": 4, "in_progress": 24, "responded": 8},
        [{"code": "floor", "description": "楼层 / floor", "datatype": "number", "required": False, "order": 1}],
    ),
    (
        "ebike.indoor",
        "电动车入户充电",
        "E-bike charged indoors or in a stairwell",
        "ebike",
        "fire",
        {"reported": 2, "filed": 4, "dispatched": 8, "in_progress": 48, "responded": 8},
        [],
    ),
    ("facilities", "公共设施", "Public facilities", None, "urban", {}, []),
    (
        "facilities.streetlight",
        "路灯损坏",
        "Broken streetlight",
        "facilities",
        "urban",
        {"reported": 4, "filed": 8, "dispatched": 24, "in_progress": 72, "responded": 24},
        [],
    ),
    (
        "facilities.damaged",
        "设施损坏",
        "Damaged public facility",
        "facilities",
        "urban",
        {"reported": 4, "filed": 8, "dispatched": 24, "in_progress": 120, "responded": 24},
        [],
    ),
    (
        "dispute",
        "邻里纠纷",
        "Neighbour dispute",
        None,
        "community",
        {"reported": 4, "filed": 24, "dispatched": 48, "in_progress": 168, "responded": 48, "consultation": 336},
        [],
    ),
]

STORY_SEWAGE = "西津东路房管所门前污水外溢，路面积水发臭，居民出行困难（幸福号人民专线来电）"
STORY_JIUJIANLOU = "九间楼楼院卫生无人清扫，垃圾、落叶堆积"

# Varied incidents: community code, grid (1..4), (dx, dy) within the grid, category, source, description,
# address, hours ago reported, states walked (each step taken ``step`` hours after the previous)
VARIED = [
    (
        "620102011002",
        1,
        (0.3, 0.4),
        "bikes.misparked",
        "patrol",
        "主干道东口共享单车堆放二十余辆，占用人行道",
        "宋家滩主干道东口",
        3,
        ["filed"],
    ),
    (
        "620102011002",
        1,
        (0.6, 0.7),
        "bikes.misparked",
        "grid_worker",
        "背街小巷共享单车横七竖八，堵住消防通道",
        "宋家滩背街小巷",
        30,
        ["filed", "dispatched"],
    ),
    (
        "620102011002",
        2,
        (0.5, 0.5),
        "bikes.misparked",
        "patrol",
        "村委会门前单车乱停，已现场规整十余辆",
        "宋家滩村委会门前",
        50,
        ["filed", "dispatched", "in_progress", "responded", "closed"],
    ),
    (
        "620102011002",
        3,
        (0.4, 0.6),
        "bikes.misparked",
        "web",
        "南口无规划停放区，单车停在机动车道上",
        "宋家滩南口",
        120,
        ["filed", "dispatched", "in_progress"],
    ),
    (
        "620102011002",
        4,
        (0.2, 0.3),
        "parking",
        "patrol",
        "小区门口机动车违停，堵住出入口",
        "宋家滩村居民楼院门口",
        6,
        [],
    ),
    (
        "620102011002",
        4,
        (0.7, 0.5),
        "env.litter",
        "grid_worker",
        "路边建筑垃圾堆放",
        "宋家滩村巷道",
        80,
        ["filed", "dispatched", "in_progress", "responded", "closed", "evaluated"],
    ),
    (
        "620102011002",
        2,
        (0.2, 0.8),
        "bikes.misparked",
        "patrol",
        "共享单车骑入院落深处，无人收回",
        "宋家滩院落",
        200,
        ["rejected"],
    ),
    (
        "620102005003",
        1,
        (0.4, 0.5),
        "ebike.flying_wire",
        "grid_worker",
        "金昌南路大院子3号楼从四楼窗口垂下充电线",
        "金昌南路大院子3号楼",
        5,
        ["filed", "dispatched"],
    ),
    (
        "620102005003",
        1,
        (0.6, 0.4),
        "ebike.indoor",
        "grid_worker",
        "楼道内停放电动车充电，堵塞疏散通道",
        "金昌南路小院子1号楼楼道",
        40,
        ["filed", "dispatched", "in_progress"],
    ),
    (
        "620102005003",
        2,
        (0.5, 0.5),
        "ebike.flying_wire",
        "hotline",
        "三爱堂小区居民反映有人拉线给电动车充电",
        "三爱堂小区",
        100,
        ["filed", "dispatched", "in_progress", "responded", "closed"],
    ),
    (
        "620102005003",
        2,
        (0.3, 0.7),
        "ebike.indoor",
        "walk_in",
        "仁恒晶城小区电梯内推电动车上楼",
        "仁恒晶城小区",
        12,
        ["filed"],
    ),
    (
        "620102005003",
        3,
        (0.5, 0.3),
        "facilities.damaged",
        "web",
        "新装智能充电桩一处插座损坏",
        "金昌南路大院子充电桩",
        70,
        ["filed", "dispatched", "in_progress", "responded"],
    ),
    (
        "620102005003",
        4,
        (0.5, 0.5),
        "env.litter",
        "grid_worker",
        "楼后空地堆放废旧家具",
        "仁恒晶城小区楼后",
        300,
        ["filed", "dispatched", "in_progress", "responded", "closed", "evaluated"],
    ),
    (
        "620102005003",
        3,
        (0.7, 0.7),
        "ebike.flying_wire",
        "grid_worker",
        "飞线充电（同一处，已有上报）",
        "金昌南路大院子3号楼",
        4,
        ["duplicate"],
    ),
    (
        "620103002001",
        1,
        (0.5, 0.5),
        "facilities.streetlight",
        "grid_worker",
        "三兆家园门口路灯不亮",
        "三兆家园门口",
        60,
        ["filed", "dispatched"],
    ),
    (
        "620103002001",
        2,
        (0.4, 0.3),
        "env.litter",
        "grid_worker",
        "邮电巷小区绿化带内烟头落叶较多",
        "邮电巷小区",
        9,
        ["filed", "dispatched", "in_progress"],
    ),
    (
        "620103002001",
        3,
        (0.6, 0.6),
        "drainage.manhole",
        "patrol",
        "人行道井盖破损，有行人踩空风险",
        "华林山路人行道",
        2,
        [],
    ),
    (
        "620103002001",
        4,
        (0.3, 0.5),
        "dispute",
        "walk_in",
        "楼上漏水引发邻里纠纷",
        "邮电巷小区2号楼",
        150,
        ["filed", "dispatched", "in_progress", "responded", "closed"],
    ),
    (
        "620103002001",
        1,
        (0.2, 0.2),
        "parking",
        "web",
        "消防通道被私家车长期占用",
        "三兆家园",
        26,
        ["filed", "dispatched"],
    ),
    (
        "620103002001",
        2,
        (0.8, 0.2),
        "facilities.damaged",
        "hotline",
        "健身器材损坏",
        "华林山社区广场",
        400,
        ["filed", "dispatched", "in_progress", "responded", "closed", "evaluated"],
    ),
    (
        "620102010001",
        1,
        (0.3, 0.3),
        "env.litter",
        "grid_worker",
        "文庭雅苑垃圾桶满溢未及时清运",
        "文庭雅苑",
        7,
        ["filed", "dispatched", "in_progress"],
    ),
    ("620102010001", 2, (0.5, 0.6), "parking", "patrol", "御景东方门口占道停车", "御景东方", 1, []),
    (
        "620102010001",
        3,
        (0.6, 0.4),
        "facilities.streetlight",
        "web",
        "格林庭院小区路灯故障",
        "格林庭院",
        90,
        ["filed", "dispatched", "in_progress", "responded", "closed"],
    ),
    (
        "620102010001",
        4,
        (0.4, 0.4),
        "ebike.indoor",
        "grid_worker",
        "楼道电动车充电",
        "和美家园2号楼",
        20,
        ["filed", "dispatched"],
    ),
    (
        "620102010001",
        1,
        (0.7, 0.6),
        "dispute",
        "walk_in",
        "小区停车位分配纠纷",
        "雁滩安居小区",
        500,
        ["filed", "consultation"],
    ),
    (
        "620102010001",
        2,
        (0.2, 0.8),
        "drainage.sewage",
        "hotline",
        "小区化粪池外溢",
        "金诚花园",
        15,
        ["filed", "dispatched", "in_progress"],
    ),
    ("620102010001", 3, (0.3, 0.8), "env.uncleaned", "grid_worker", "楼后死角长期无人清扫", "恒信雅居", 240, ["filed"]),
    (
        "620102011002",
        3,
        (0.8, 0.2),
        "facilities.damaged",
        "patrol",
        "停放区标线磨损不清",
        "宋家滩背街小巷停放区",
        36,
        ["filed", "dispatched", "in_progress"],
    ),
    ("620102005003", 4, (0.2, 0.2), "parking", "patrol", "小区门口非机动车乱停", "金昌南路", 0.5, []),
    (
        "620103002001",
        3,
        (0.4, 0.7),
        "env.litter",
        "web",
        "社区周边绿化带白色垃圾",
        "华林山社区绿化带",
        72,
        ["filed", "rejected"],
    ),
]


def _departments() -> int:
    added = 0
    for code, name, name_en, phone in DEPARTMENTS:
        if db.session.scalar(select(Department.id).where(Department.code == code)) is None:
            db.session.add(Department(code=code, name=name, name_en=name_en, phone=phone))
            added += 1
    db.session.flush()
    return added


def _categories() -> int:
    added = 0
    deps = {d.code: d for d in db.session.scalars(select(Department))}
    for code, name, name_en, parent, dep, deadlines, attributes in CATEGORIES:
        if db.session.scalar(select(IncidentCategory.id).where(IncidentCategory.code == code)) is not None:
            continue
        parent_id = (
            db.session.scalar(select(IncidentCategory.id).where(IncidentCategory.code == parent)) if parent else None
        )
        db.session.add(
            IncidentCategory(
                code=code,
                name=name,
                name_en=name_en,
                parent_id=parent_id,
                department=deps[dep].name,
                department_id=deps[dep].id,
                deadlines=deadlines,
                attributes=attributes,
                active=True,
            )
        )
        db.session.flush()
        added += 1
    return added


def _at(y, m, d, h, mi=0) -> dt.datetime:
    return dt.datetime(y, m, d, h, mi, tzinfo=TZ)


def _exists(description: str) -> bool:
    return db.session.scalar(select(Incident.id).where(Incident.description == description).limit(1)) is not None


def story_incident(description: str) -> Incident | None:
    """One of the seed story's incidents (:data:`STORY_SEWAGE`, :data:`STORY_JIUJIANLOU`), once seeded."""
    return db.session.scalar(select(Incident).where(Incident.description == description).order_by(Incident.id).limit(1))


def _story() -> int:
    """The seed page's story up to the council: both incidents reported and filed, as the people did."""
    if story_incident(STORY_SEWAGE) is not None:
        return 0
    staff, liailan, grid = find_user("staff"), find_user("liailan"), find_user("gridworker")
    sewage = report_incident(
        category_code="drainage.sewage",
        description=STORY_SEWAGE,
        lon=103.78865,
        lat=36.05085,
        address="七里河区西津东路房管所门前",
        source="hotline",
        reporter_name="王女士",
        reporter_phone="13800000001",
        user=staff,
        reported_at=_at(2024, 4, 8, 9, 12),
    )
    transition(
        sewage.id,
        "filed",
        liailan,
        EVERYTHING,
        at=_at(2024, 4, 8, 10, 40),
        note="调解员李爱兰到现场查看：房管所门前排污管道堵塞破损，污水外溢约20米，已向社区报告。",
    )
    jjl = report_incident(
        category_code="env.uncleaned",
        description=STORY_JIUJIANLOU,
        lon=103.7830,
        lat=36.0452,
        address="七里河区华林山九间楼",
        source="grid_worker",
        user=grid,
        reported_at=_at(2024, 4, 9, 15, 30),
    )
    transition(
        jjl.id,
        "filed",
        staff,
        EVERYTHING,
        at=_at(2024, 4, 9, 17, 0),
        note="九间楼无物业、无人清扫，提交楼院圆桌议事厅协商。",
    )
    return 2


def _grid_point(community: str, grid: int, dx: float, dy: float) -> tuple[float, float]:
    """A point in one of the four demo grids of a community (its rectangle cut in four)."""
    x0, y0, x1, y1 = to_shape(get_area_by_code(community).geom).bounds
    xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
    cells = [(x0, ym, xm, y1), (xm, ym, x1, y1), (x0, y0, xm, ym), (xm, y0, x1, ym)]
    a, b, c, d = cells[grid - 1]
    return a + (c - a) * dx, b + (d - b) * dy


def _varied() -> int:
    added = 0
    admin = find_user("admin")
    start = now()
    deps = {d.code: d.id for d in db.session.scalars(select(Department))}
    first_of: dict = {}
    for community, grid, (dx, dy), cat, source, desc, address, hours, path in VARIED:
        if _exists(desc):
            continue
        lon, lat = _grid_point(community, grid, dx, dy)
        reported = start - dt.timedelta(hours=hours)
        inc = report_incident(
            category_code=cat,
            description=desc,
            lon=lon,
            lat=lat,
            address=address,
            source=source,
            user=admin,
            reported_at=reported,
            commit=False,
        )
        first_of.setdefault((cat, address), inc.id)
        step = hours / (len(path) + 1) if path else 0
        at = reported
        for state in path:
            at = at + dt.timedelta(hours=step)
            data = {}
            if state == "dispatched":
                cat_row = inc.category
                data = {"department_id": cat_row.department_id or deps["urban"]}
            elif state == "evaluated":
                data = {"rating": 4}
            elif state == "duplicate":
                data = {"duplicate_of": first_of.get((cat, address))}
            transition(
                inc.id,
                state,
                admin,
                EVERYTHING,
                at=at,
                data=data,
                commit=False,
                note={
                    "filed": "核实属实，立案",
                    "rejected": "经核实不属于受理范围",
                    "closed": "核查合格，结案",
                    "responded": "已处置完毕",
                }.get(state),
            )
        added += 1
    db.session.commit()
    return added


# 处置端 logins: the drainage office of the sewage story, and the Red Property alliance's model unit.
ORGANISATIONS = [("drainage", None, ["paishui"]), (None, "兰州晟合物业有限责任公司", ["shenghe"])]
# E-mail addresses of the demo (a reserved domain: nothing leaves without a real SMTP server configured).
MAIL_DOMAIN = "wuwei.example"
MAIL_USERS = ("staff", "liailan", "leader", "gridworker", "hls2", "paishui", "shenghe")


def _organisations() -> int:
    added = 0
    for dep_code, company, usernames in ORGANISATIONS:
        dep = db.session.scalar(select(Department.id).where(Department.code == dep_code)) if dep_code else None
        com = db.session.scalar(select(PropertyCompany.id).where(PropertyCompany.name == company)) if company else None
        if dep is None and com is None:
            continue
        org = organisation_for(dep, com, create=True)
        if all(find_user(u) is not None for u in usernames) and not member_ids(org):
            set_members(org, usernames, commit=False)
            added += 1
    return added


def _notices() -> int:
    """E-mail addresses for the demo's people; each grid worker hears of new incidents in their grid, the
    city's leader of overdue cases and unsatisfied residents (once: what exists is left as it is)."""
    wanted = [
        (user_id, grid_id, [NEW])
        for user_id, grid_id in db.session.execute(select(grid_workers.c.user_id, grid_workers.c.area_id)).all()
    ]
    leader = find_user("leader")
    if leader is not None:
        wanted.append((leader.id, leader.area_id, [OVERDUE, UNSATISFIED]))
    added = 0
    for user_id, area_id, kinds in wanted:
        if all(sub.area_id != area_id for sub in subscriptions(user_id)):
            subscribe(db.session.get(User, user_id), db.session.get(Area, area_id).code, kinds, commit=False)
            added += 1
    for username in MAIL_USERS:
        user = find_user(username)
        if user is not None and setting_of(user.id) is None:
            save_settings(user, email=f"{username}@{MAIL_DOMAIN}", commit=False)
            added += 1
    return added


def seed_incidents() -> int:
    """Departments, categories, the seed story's incidents and varied incidents, the organisations that work
    in Wuwei and the demo's notice settings (idempotent)."""
    added = _departments() + _categories()
    db.session.commit()
    added += _story()
    added += _varied()
    added += _organisations() + _notices()
    db.session.commit()
    return added
