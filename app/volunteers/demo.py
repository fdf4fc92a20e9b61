"""Demo records for volunteers: the four-colour squads (“四色”志愿服务小分队) of Hualinshan, their
volunteers, the five activities with their recurrences, and six weeks of attendance (hours per team).

Runs after the households step; names are invented from :mod:`app.households.demo`'s name lists.
"""

import datetime as dt

from sqlalchemy import select

from app.areas.models import Area
from app.core.extensions import db
from app.core.time import TZ, now
from app.households.demo import GIVEN, SURNAMES
from app.volunteers.models import Activity, SignUp, Team, Volunteer
from app.volunteers.recurrence import occurrences

COMMUNITY = "620103002001"  # 华林山社区
SQUADS = [
    ("“四色”志愿服务小分队·红色（党员先锋）", "杨红梅", ["理发", "陪聊", "政策宣讲"]),
    ("“四色”志愿服务小分队·黄色（关爱帮扶）", "黄建华", ["陪聊", "代购", "家政"]),
    ("“四色”志愿服务小分队·蓝色（平安巡防）", "蓝天宇", ["巡防", "维修", "驾驶"]),
    ("“四色”志愿服务小分队·绿色（环境卫生）", "林青", ["保洁", "绿化", "垃圾分类"]),
]
ACTIVITIES = [
    (
        "幸福来敲门",
        "志愿者上门陪伴独居老人、问需解难",
        "FREQ=WEEKLY;BYDAY=WE",
        (2026, 1, 7, 9, 30),
        120,
        1,
        "华林山社区各楼院",
    ),
    (
        "健康进万家",
        "社区卫生服务站义诊、量血压、健康讲座",
        "FREQ=MONTHLY;BYDAY=2SA",
        (2026, 1, 10, 9, 0),
        180,
        0,
        "华林山社区党群服务中心",
    ),
    (
        "关爱失业无业群体",
        "就业政策宣讲、岗位推介与技能培训",
        "FREQ=MONTHLY;BYMONTHDAY=10",
        (2026, 1, 10, 14, 30),
        120,
        0,
        "华林山社区党群服务中心",
    ),
    (
        "逢四来说事",
        "每月4日、14日、24日，居民代表、驻区单位、物业在楼院圆桌议事厅议事",
        "FREQ=MONTHLY;BYMONTHDAY=4,14,24",
        (2026, 1, 4, 9, 0),
        120,
        3,
        "楼院圆桌议事厅",
    ),
    (
        "周五帮帮团",
        "每周五志愿者为居民理发、修理小家电、代办事项",
        "FREQ=WEEKLY;BYDAY=FR",
        (2026, 1, 2, 15, 0),
        120,
        2,
        "华林山社区广场",
    ),
]


def demo_team(index: int) -> Team | None:
    """One of the four squads (0 red, 1 yellow, 2 blue, 3 green), for other features' demo steps."""
    return db.session.scalar(select(Team).where(Team.name == SQUADS[index][0]))


def seed_volunteers() -> int:
    """Idempotent demo step; returns rows added."""
    community = db.session.scalar(select(Area).where(Area.code == COMMUNITY))
    if community is None:
        return 0
    teams, added = _squads(community)
    acts, more = _activities(community, teams)
    return added + more + _attendance(acts)


def _squads(community) -> tuple[list[Team], int]:
    added, teams = 0, []
    for i, (name, leader, skills) in enumerate(SQUADS):
        t = db.session.scalar(select(Team).where(Team.name == name))
        if t is None:
            t = Team(
                name=name,
                area_id=community.id,
                leader_name=leader,
                party_led=True,
                note="“四色”志愿服务小分队，党员带头，结对陪伴独居老人",
            )
            db.session.add(t)
            db.session.flush()
            added += 1
        teams.append(t)
        for j in range(6):
            vname = SURNAMES[(i * 6 + j * 5 + 3) % len(SURNAMES)] + GIVEN[(i * 6 + j + 7) % len(GIVEN)]
            if (
                db.session.scalar(select(Volunteer.id).where(Volunteer.name == vname, Volunteer.team_id == t.id))
                is None
            ):
                db.session.add(
                    Volunteer(
                        name=vname,
                        phone=f"1370000{i}{j:03d}",
                        team_id=t.id,
                        area_id=community.id,
                        skills=sorted({skills[j % 3], skills[(j + 1) % 3]}),
                        party_member=j < 3,
                    )
                )
                added += 1
    db.session.flush()
    return teams, added


def _activities(community, teams) -> tuple[list[Activity], int]:
    added, acts = 0, []
    for title, desc, rule, start, minutes, team_ix, place in ACTIVITIES:
        a = db.session.scalar(select(Activity).where(Activity.title == title, Activity.area_id == community.id))
        if a is None:
            a = Activity(
                title=title,
                description=desc,
                area_id=community.id,
                team_id=teams[team_ix].id,
                place=place,
                dtstart=dt.datetime(*start, tzinfo=TZ),
                rrule=rule,
                duration_minutes=minutes,
            )
            db.session.add(a)
            db.session.flush()
            added += 1
        acts.append(a)
    return acts, added


def _attendance(acts) -> int:
    """Sign-ups and attendance over the last six weeks: hours per volunteer and team."""
    added, moment = 0, now()
    for a in acts:
        vols = list(db.session.scalars(select(Volunteer).where(Volunteer.team_id == a.team_id).order_by(Volunteer.id)))
        for k, when in enumerate(occurrences(a.rrule, a.dtstart, moment - dt.timedelta(days=42), moment)):
            for v in vols[k % 2 :: 2]:
                day = when.date()
                if (
                    db.session.scalar(
                        select(SignUp.id).where(
                            SignUp.activity_id == a.id, SignUp.occurs_on == day, SignUp.volunteer_id == v.id
                        )
                    )
                    is None
                ):
                    db.session.add(
                        SignUp(
                            activity_id=a.id,
                            occurs_on=day,
                            volunteer_id=v.id,
                            attended=True,
                            hours=round(a.duration_minutes / 60, 2),
                        )
                    )
                    added += 1
    db.session.flush()
    return added
