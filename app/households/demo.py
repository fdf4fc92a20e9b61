"""Demo records for households, visits, care plans, wishes, volunteers and activities.

The seed's people: Grandma Peng (彭奶奶, 90, old party member who cannot walk) in Sanzhao
Jiayuan, her pension certification done at home and her wish fulfilled; Mr Liu (刘先生, 63,
childless, alone, on basic living allowance) in the Youdian Lane compound, visited weekly
by his grid worker and kept company by the four-colour volunteer squads; other key
households in every Hualinshan residential grid (enough for k≥5 aggregates); the five
activities with their recurrences. Names other than the seed's are invented. Dates are
relative to the day of seeding so that due and overdue visits always show.
"""
import datetime as dt

from sqlalchemy import select

from app.areas.models import Area
from app.auth.models import User
from app.basemap.models import Building
from app.core.extensions import db
from app.households.models import CarePlan, Household, Member, Tag, Visit
from app.volunteers.models import Activity, SignUp, Team, Volunteer
from app.volunteers.recurrence import TZ, occurrences
from app.wishes.models import Wish

TAGS = [("elderly_alone", "独居老人", "Elderly living alone"), ("disabled", "残疾人", "Disabled"),
        ("poor_party_member", "困难党员", "Party member in hardship"), ("unemployed", "失业无业", "Unemployed"),
        ("key_care", "重点关爱", "Key care"), ("old_party_member", "老党员", "Veteran party member"),
        ("immobile", "行动不便", "Cannot walk"), ("childless", "无子女", "Childless"),
        ("low_income", "低保户", "Basic living allowance"), ("elderly_80", "高龄老人", "Aged 80+")]

SURNAMES = "王李张赵陈杨黄吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = ["秀英", "桂兰", "建国", "玉兰", "国华", "淑珍", "志强", "凤英", "德明", "春梅", "文华", "金凤", "永福", "兰英",
         "长青", "丽华", "明远", "翠花", "宝山", "素芳"]
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
SQUADS = [("“四色”志愿服务小分队·红色（党员先锋）", "杨红梅", ["理发", "陪聊", "政策宣讲"]),
          ("“四色”志愿服务小分队·黄色（关爱帮扶）", "黄建华", ["陪聊", "代购", "家政"]),
          ("“四色”志愿服务小分队·蓝色（平安巡防）", "蓝天宇", ["巡防", "维修", "驾驶"]),
          ("“四色”志愿服务小分队·绿色（环境卫生）", "林青", ["保洁", "绿化", "垃圾分类"])]
ACTIVITIES = [
    ("幸福来敲门", "志愿者上门陪伴独居老人、问需解难", "FREQ=WEEKLY;BYDAY=WE", (2026, 1, 7, 9, 30), 120, 1, "华林山社区各楼院"),
    ("健康进万家", "社区卫生服务站义诊、量血压、健康讲座", "FREQ=MONTHLY;BYDAY=2SA", (2026, 1, 10, 9, 0), 180, 0,
     "华林山社区党群服务中心"),
    ("关爱失业无业群体", "就业政策宣讲、岗位推介与技能培训", "FREQ=MONTHLY;BYMONTHDAY=10", (2026, 1, 10, 14, 30), 120, 0,
     "华林山社区党群服务中心"),
    ("逢四来说事", "每月4日、14日、24日，居民代表、驻区单位、物业在楼院圆桌议事厅议事",
     "FREQ=MONTHLY;BYMONTHDAY=4,14,24", (2026, 1, 4, 9, 0), 120, 3, "楼院圆桌议事厅"),
    ("周五帮帮团", "每周五志愿者为居民理发、修理小家电、代办事项", "FREQ=WEEKLY;BYDAY=FR", (2026, 1, 2, 15, 0), 120, 2,
     "华林山社区广场"),
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
    h = Household(building_id=building.id, flat_no=flat, head_name=head, phone=phone, notes=notes,
                  grid_id=building.grid_id)
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
    at = dt.datetime.now(TZ).replace(hour=hour, minute=0, second=0, microsecond=0) - dt.timedelta(days=days_ago)
    v = Visit(household_id=h.id, building_id=h.building_id, grid_id=h.grid_id, visited_at=at, purpose=purpose,
              notes=notes, visitor_names=names, follow_up=follow_up, created_by=visitors[0].id if visitors else None)
    v.visitors = [u for u in visitors if u]
    db.session.add(v)


def _worker_of(building) -> User | None:
    grid = db.session.get(Area, building.grid_id) if building.grid_id else None
    return grid.workers[0] if grid is not None and grid.workers else None


def seed_households() -> int:
    """Idempotent demo step; returns rows added."""
    tags, added = _tags()
    today = dt.datetime.now(TZ).date()
    staff, gw, hls4 = _user("staff"), _user("gridworker"), _user("hls4")
    community = db.session.scalar(select(Area).where(Area.code == "620103002001"))
    if community is None or staff is None:
        return added

    # Grandma Peng, Sanzhao Jiayuan: pension certification at home, her wish fulfilled.
    b = _building("三兆家园3号楼")
    peng, new = _household(b, "2单元101", "彭奶奶", "0931-2345678",
                           [tags["old_party_member"], tags["immobile"], tags["elderly_80"], tags["key_care"]],
                           [dict(name="彭奶奶", relation="户主", gender="female", birth_year=today.year - 90,
                                 party_member=True, health="行动不便，常年卧床",
                                 tags=[tags["old_party_member"], tags["immobile"]]),
                            dict(name="彭奶奶之子", relation="子女", gender="male", birth_year=today.year - 62,
                                 phone="13900000001")],
                           notes="90岁老党员，无法行走，需上门服务")
    if new:
        added += 1
        _visit(peng, 12, "pension_certification", [gw, staff], "上门为彭奶奶办理养老金资格认证，现场完成人脸识别认证",
               names="社区党委委员")
        _visit(peng, 40, "greeting", [gw], "节日慰问，老人身体尚可")
        db.session.add(CarePlan(household_id=peng.id, frequency_days=30, worker_id=gw.id,
                                start_date=today - dt.timedelta(days=90), purpose="care_visit",
                                note="每月上门一次"))
        added += 2

    # Mr Liu, Youdian Lane compound: weekly care plan by his grid worker; four-colour squads keep him company.
    b = _building("邮电巷小区2号楼")
    liu, new = _household(b, "1单元301", "刘先生", "13800000063",
                          [tags["elderly_alone"], tags["childless"], tags["low_income"], tags["key_care"]],
                          [dict(name="刘先生", relation="户主", gender="male", birth_year=today.year - 63,
                                health="高血压", tags=[tags["elderly_alone"], tags["childless"], tags["low_income"]])],
                          notes="63岁，无子女，独居，享受低保")
    if new:
        added += 1
        worker = hls4 or _worker_of(b)
        for days in (3, 10, 17, 24, 31):
            _visit(liu, days, "care_visit", [worker], "上门探望，了解生活情况，老人状态良好",
                   names="“四色”志愿服务小分队" if days in (10, 24) else None)
        db.session.add(CarePlan(household_id=liu.id, frequency_days=7, worker_id=worker.id if worker else None,
                                start_date=today - dt.timedelta(days=60), purpose="care_visit",
                                note="每周走访一次；“四色”志愿服务小分队轮流陪伴"))
        added += 6

    # Other key households, enough per grid for aggregates over five.
    n = 0
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
            h, new = _household(b, f"{1 + i // 4}单元{(i % 4 + 1) * 100 + 1}", name, f"1390000{n:04d}", ts,
                                [dict(name=name, relation="户主", gender="female" if n % 2 else "male",
                                      birth_year=today.year - age, party_member="poor_party_member" in
                                      tag_cycle[i % len(tag_cycle)], tags=ts)])
            if not new:
                continue
            added += 1
            if worker is not None:
                _visit(h, last + i % 3, "needs_survey" if i % 2 else "greeting", [worker],
                       "入户走访，了解需求，听取意见建议")
                db.session.add(CarePlan(household_id=h.id, frequency_days=freq, worker_id=worker.id,
                                        start_date=today - dt.timedelta(days=120)))
                added += 2
    db.session.flush()

    added += _volunteers(community, today)
    added += _wishes(peng, liu, community)
    return added


def _volunteers(community, today) -> int:
    added = 0
    teams = []
    for i, (name, leader, skills) in enumerate(SQUADS):
        t = db.session.scalar(select(Team).where(Team.name == name))
        if t is None:
            t = Team(name=name, area_id=community.id, leader_name=leader, party_led=True,
                     note="“四色”志愿服务小分队，党员带头，结对陪伴独居老人")
            db.session.add(t)
            db.session.flush()
            added += 1
        teams.append(t)
        for j in range(6):
            vname = SURNAMES[(i * 6 + j * 5 + 3) % len(SURNAMES)] + GIVEN[(i * 6 + j + 7) % len(GIVEN)]
            if db.session.scalar(select(Volunteer.id).where(Volunteer.name == vname, Volunteer.team_id == t.id)) is None:
                db.session.add(Volunteer(name=vname, phone=f"1370000{i}{j:03d}", team_id=t.id, area_id=community.id,
                                         skills=sorted({skills[j % 3], skills[(j + 1) % 3]}), party_member=j < 3))
                added += 1
    db.session.flush()
    acts = []
    for title, desc, rule, start, minutes, team_ix, place in ACTIVITIES:
        a = db.session.scalar(select(Activity).where(Activity.title == title, Activity.area_id == community.id))
        if a is None:
            a = Activity(title=title, description=desc, area_id=community.id, team_id=teams[team_ix].id, place=place,
                         dtstart=dt.datetime(*start, tzinfo=TZ), rrule=rule, duration_minutes=minutes)
            db.session.add(a)
            db.session.flush()
            added += 1
        acts.append(a)
    # Sign-ups and attendance over the last six weeks: hours per volunteer and team.
    now = dt.datetime.now(TZ)
    for a in acts:
        vols = list(db.session.scalars(select(Volunteer).where(Volunteer.team_id == a.team_id).order_by(Volunteer.id)))
        for k, when in enumerate(occurrences(a.rrule, a.dtstart, now - dt.timedelta(days=42), now)):
            for v in vols[k % 2::2]:
                day = when.date()
                if db.session.scalar(select(SignUp.id).where(SignUp.activity_id == a.id, SignUp.occurs_on == day,
                                                             SignUp.volunteer_id == v.id)) is None:
                    db.session.add(SignUp(activity_id=a.id, occurs_on=day, volunteer_id=v.id, attended=True,
                                          hours=round(a.duration_minutes / 60, 2)))
                    added += 1
    db.session.flush()
    return added


def _wishes(peng, liu, community) -> int:
    added = 0
    red = db.session.scalar(select(Team).where(Team.name == SQUADS[0][0]))
    yellow = db.session.scalar(select(Team).where(Team.name == SQUADS[1][0]))
    now = dt.datetime.now(TZ)
    others = list(db.session.scalars(select(Household).join(Building).where(Building.name == "邮电巷小区1号楼")
                                     .order_by(Household.id)))
    sz = list(db.session.scalars(select(Household).join(Building).where(Building.name == "三兆家园1号楼")
                                 .order_by(Household.id)))
    items = [
        (peng, "想要一台轮椅，能下楼晒晒太阳", "daily_needs", "fulfilled", yellow, "彭奶奶行动不便，家中无轮椅",
         "社区志愿者送去轮椅一台，并推老人下楼晒太阳"),
        (liu, "希望有人陪着下象棋、聊聊天", "companionship", "claimed", red, "刘先生独居，喜欢下象棋", None),
        (liu, "家里厨房水龙头漏水，想请人修一修", "repair", "fulfilled", yellow, None, "蓝色小分队上门更换水龙头"),
    ]
    for i, h in enumerate(others[:5]):
        items.append((h, ["想学用智能手机视频通话", "想要一副老花镜", "希望有人帮忙代购常用药", "想理个发",
                          "想请人读读报纸"][i], ["study", "daily_needs", "health", "daily_needs", "companionship"][i],
                      "posted" if i < 4 else "claimed", red if i == 4 else None, None, None))
    for i, h in enumerate(sz[:2]):
        items.append((h, ["想给孙子买一套课外书", "想换个亮一点的楼道灯"][i], ["study", "repair"][i],
                      "posted" if i == 0 else "withdrawn", None, None, None))
    for h, title, cat, status, team, details, note in items:
        if h is None or db.session.scalar(select(Wish.id).where(Wish.household_id == h.id, Wish.title == title)):
            continue
        w = Wish(household_id=h.id, title=title, category=cat, status=status, grid_id=h.grid_id, details=details,
                 posted_at=now - dt.timedelta(days=20))
        if status in ("claimed", "fulfilled"):
            w.claimed_by_team_id, w.claimed_at = team.id, now - dt.timedelta(days=15)
        if status == "fulfilled":
            w.fulfilled_at, w.fulfilment_note = now - dt.timedelta(days=8), note
        if status == "withdrawn":
            w.withdrawn_at, w.withdraw_reason = now - dt.timedelta(days=5), "物业已统一更换楼道灯"
        db.session.add(w)
        added += 1
    db.session.flush()
    return added
