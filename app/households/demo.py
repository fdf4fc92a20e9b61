"""Demo records for households, visits and care plans (volunteers and wishes add theirs after this step).

The seed's people: Grandma Peng (彭奶奶, 90, old party member who cannot walk) in Sanzhao
Jiayuan, her pension certification done at home; Mr Liu (刘先生, 63, childless, alone, on basic
living allowance) in the Youdian Lane compound, visited weekly by his grid worker; other key
households in every Hualinshan residential grid (enough for k≥5 aggregates). Names other than
the seed's are invented (:data:`SURNAMES`, :data:`GIVEN`, shared with the volunteers' demo). Dates
are relative to the day of seeding so that due and overdue visits always show.
"""

import datetime as dt

from sqlalchemy import select

from app.areas.models import Area
from app.auth.models import User
from app.basemap.models import Building
from app.core.extensions import db
from app.core.time import now
from app.households.models import CarePlan, Household, Member, Tag, Visit

TAGS = [
    ("elderly_alone", "独居老人", "Elderly living alone"),
    ("disabled", "残疾人", "Disabled"),
    ("poor_party_member", "困难党员", "Party member in hardship"),
    ("unemployed", "失业无业", "Unemployed"),
    ("key_care", "重点关爱", "Key care"),
    ("old_party_member", "老党员", "Veteran party member"),
    ("immobile", "行动不便", "Cannot walk"),
    ("childless", "无子女", "Childless"),
    ("low_income", "低保户", "Basic living allowance"),
    ("elderly_80", "高龄老人", "Aged 80+"),
]

SURNAMES = "王李张赵陈杨黄吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = [
    "秀英",
    "桂兰",
    "建国",
    "玉兰",
    "国华",
    "淑珍",
    "志强",
    "凤英",
    "德明",
    "春梅",
    "文华",
    "金凤",
    "永福",
    "兰英",
    "长青",
    "丽华",
    "明远",
    "翠花",
    "宝山",
    "素芳",
]
# building name → (tags cycle, count, care-plan days, days since last visit)
PLAN = [
    ("三兆家园1号楼", [["elderly_alone", "elderly_80"], ["poor_party_member"], ["disabled", "key_care"]], 6, 30, 10),
    ("三兆家园2号楼", [["elderly_alone"], ["unemployed"], ["disabled"]], 4, 30, 40),
    ("邮电巷小区1号楼", [["elderly_alone", "key_care"], ["elderly_alone", "disabled"], ["elderly_alone"]], 6, 14, 20),
    ("邮电巷小区3号楼", [["unemployed"], ["poor_party_member"], ["low_income"]], 3, 30, 5),
    ("九间楼", [["elderly_alone"], ["disabled"], ["unemployed"], ["poor_party_member"]], 6, 30, 12),
    ("金昌南路大院子1号楼", [["elderly_alone"], ["disabled"], ["low_income"]], 6, 30, 35),
    ("宋家滩村1号楼", [["unemployed"], ["elderly_alone"], ["low_income"]], 6, 30, 8),
]


def _user(name):
    return db.session.scalar(select(User).where(User.username == name))


def _building(name):
    return db.session.scalar(select(Building).where(Building.name == name))


def _tags() -> tuple[dict, int]:
    added = 0
    for code, name, en in TAGS:
        if db.session.scalar(select(Tag.id).where(Tag.code == code)) is None:
            db.session.add(Tag(code=code, name=name, name_en=en, key_group=True, active=True))
            added += 1
    db.session.flush()
    return {t.code: t for t in db.session.scalars(select(Tag))}, added


def _household(building, flat, head, phone, tags, members, notes=None):
    """(household, created?) — looked up by building and flat."""
    h = db.session.scalar(select(Household).where(Household.building_id == building.id, Household.flat_no == flat))
    if h is not None:
        return h, False
    h = Household(
        building_id=building.id, flat_no=flat, head_name=head, phone=phone, notes=notes, grid_id=building.grid_id
    )
    h.tags = tags
    for m in members:
        mtags = m.pop("tags", [])
        member = Member(**m)
        member.tags = mtags
        h.members.append(member)
    db.session.add(h)
    db.session.flush()
    return h, True


def _visit(h, days_ago, purpose, visitors, notes, names=None, follow_up=None, hour=10):
    at = now().replace(hour=hour, minute=0, second=0, microsecond=0) - dt.timedelta(days=days_ago)
    v = Visit(
        household_id=h.id,
        building_id=h.building_id,
        grid_id=h.grid_id,
        visited_at=at,
        purpose=purpose,
        notes=notes,
        visitor_names=names,
        follow_up=follow_up,
        created_by=visitors[0].id if visitors else None,
    )
    v.visitors = [u for u in visitors if u]
    db.session.add(v)


def _worker_of(building) -> User | None:
    grid = db.session.get(Area, building.grid_id) if building.grid_id else None
    return grid.workers[0] if grid is not None and grid.workers else None


def seed_households() -> int:
    """Idempotent demo step; returns rows added."""
    tags, added = _tags()
    staff = _user("staff")
    community = db.session.scalar(select(Area).where(Area.code == "620103002001"))
    if community is None or staff is None:
        return added
    added += _grandma_peng(tags, staff) + _mr_liu(tags) + _key_households(tags)
    db.session.flush()
    return added


def _grandma_peng(tags, staff) -> int:
    """Grandma Peng, Sanzhao Jiayuan: pension certification at home."""
    today, gw = now().date(), _user("gridworker")
    peng, new = _household(
        _building("三兆家园3号楼"),
        "2单元101",
        "彭奶奶",
        "0931-2345678",
        [tags["old_party_member"], tags["immobile"], tags["elderly_80"], tags["key_care"]],
        [
            {
                "name": "彭奶奶",
                "relation": "户主",
                "gender": "female",
                "birth_year": today.year - 90,
                "party_member": True,
                "health": "行动不便，常年卧床",
                "tags": [tags["old_party_member"], tags["immobile"]],
            },
            {
                "name": "彭奶奶之子",
                "relation": "子女",
                "gender": "male",
                "birth_year": today.year - 62,
                "phone": "13900000001",
            },
        ],
        notes="90岁老党员，无法行走，需上门服务",
    )
    if not new:
        return 0
    _visit(
        peng,
        12,
        "pension_certification",
        [gw, staff],
        "上门为彭奶奶办理养老金资格认证，现场完成人脸识别认证",
        names="社区党委委员",
    )
    _visit(peng, 40, "greeting", [gw], "节日慰问，老人身体尚可")
    db.session.add(
        CarePlan(
            household_id=peng.id,
            frequency_days=30,
            worker_id=gw.id,
            start_date=today - dt.timedelta(days=90),
            purpose="care_visit",
            note="每月上门一次",
        )
    )
    return 3


def _mr_liu(tags) -> int:
    """Mr Liu, Youdian Lane compound: weekly care plan by his grid worker; four-colour squads keep him company."""
    today, b = now().date(), _building("邮电巷小区2号楼")
    liu, new = _household(
        b,
        "1单元301",
        "刘先生",
        "13800000063",
        [tags["elderly_alone"], tags["childless"], tags["low_income"], tags["key_care"]],
        [
            {
                "name": "刘先生",
                "relation": "户主",
                "gender": "male",
                "birth_year": today.year - 63,
                "health": "高血压",
                "tags": [tags["elderly_alone"], tags["childless"], tags["low_income"]],
            }
        ],
        notes="63岁，无子女，独居，享受低保",
    )
    if not new:
        return 0
    worker = _user("hls4") or _worker_of(b)
    for days in (3, 10, 17, 24, 31):
        _visit(
            liu,
            days,
            "care_visit",
            [worker],
            "上门探望，了解生活情况，老人状态良好",
            names="“四色”志愿服务小分队" if days in (10, 24) else None,
        )
    db.session.add(
        CarePlan(
            household_id=liu.id,
            frequency_days=7,
            worker_id=worker.id if worker else None,
            start_date=today - dt.timedelta(days=60),
            purpose="care_visit",
            note="每周走访一次；“四色”志愿服务小分队轮流陪伴",
        )
    )
    return 7


def _key_households(tags) -> int:
    """Other key households, enough per grid for aggregates over five."""
    today, added, n = now().date(), 0, 0
    for bname, tag_cycle, count, freq, last in PLAN:
        b = _building(bname)
        if b is None:
            continue
        worker = _worker_of(b)
        for i in range(count):
            n += 1
            ts = [tags[c] for c in tag_cycle[i % len(tag_cycle)]]
            name = SURNAMES[(n * 7) % len(SURNAMES)] + GIVEN[n % len(GIVEN)]
            elderly = "elderly_alone" in tag_cycle[i % len(tag_cycle)]
            age = 72 + (n * 3) % 18 if elderly else 35 + (n * 5) % 25
            h, new = _household(
                b,
                f"{1 + i // 4}单元{(i % 4 + 1) * 100 + 1}",
                name,
                f"1390000{n:04d}",
                ts,
                [
                    {
                        "name": name,
                        "relation": "户主",
                        "gender": "female" if n % 2 else "male",
                        "birth_year": today.year - age,
                        "party_member": "poor_party_member" in tag_cycle[i % len(tag_cycle)],
                        "tags": ts,
                    }
                ],
            )
            if not new:
                continue
            added += 1
            if worker is not None:
                _visit(
                    h,
                    last + i % 3,
                    "needs_survey" if i % 2 else "greeting",
                    [worker],
                    "入户走访，了解需求，听取意见建议",
                )
                db.session.add(
                    CarePlan(
                        household_id=h.id,
                        frequency_days=freq,
                        worker_id=worker.id,
                        start_date=today - dt.timedelta(days=120),
                    )
                )
                added += 2
    return added


def demo_household(head_name: str) -> Household | None:
    """A household of the demo by its head's name (for other features' demo steps)."""
    return db.session.scalar(select(Household).where(Household.head_name == head_name).order_by(Household.id))


def demo_households_at(building_name: str) -> list[Household]:
    """The demo households of a building, in the order they were filed."""
    return list(
        db.session.scalars(
            select(Household).join(Building).where(Building.name == building_name).order_by(Household.id)
        )
    )
