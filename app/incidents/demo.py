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
from app.incidents.demo_cases import STORY_JIUJIANLOU, STORY_SEWAGE, VARIED
from app.incidents.demo_categories import CATEGORIES, DEPARTMENTS
from app.incidents.models import Department, Incident, IncidentCategory
from app.incidents.services import organisation_for, report_incident, set_members, transition
from app.incidents.services.organisations import member_ids
from app.incidents.services.tell import NEW, OVERDUE, UNSATISFIED
from app.notices.settings import save_settings, setting_of, subscribe, subscriptions

EVERYTHING = Scope(everything=True)


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
