"""Demo wishes: Grandma Peng's wheelchair (fulfilled), Mr Liu's chess partner (claimed by the red squad)
and his tap (fulfilled), small wishes of their neighbours (posted, claimed, withdrawn).

Runs after the households and volunteers steps; finds their records through their demo helpers.
"""

import datetime as dt

from sqlalchemy import select

from app.core.extensions import db
from app.core.time import now
from app.households.demo import demo_household, demo_households_at
from app.volunteers.demo import demo_team
from app.volunteers.models import Volunteer
from app.wishes.models import Wish

PARTY_WISH = "想请人每周来读读党报、讲讲社区新鲜事"

NEIGHBOURS = [
    ("想学用智能手机视频通话", "study"),
    ("想要一副老花镜", "daily_needs"),
    ("希望有人帮忙代购常用药", "health"),
    ("想理个发", "daily_needs"),
    ("想请人读读报纸", "companionship"),
]
SANZHAO = [("想给孙子买一套课外书", "study", "posted"), ("想换个亮一点的楼道灯", "repair", "withdrawn")]


def _items() -> list[tuple]:
    """(household, title, category, status, team, details, fulfilment note)."""
    peng, liu = demo_household("彭奶奶"), demo_household("刘先生")
    red, yellow = demo_team(0), demo_team(1)
    items = [
        (
            peng,
            "想要一台轮椅，能下楼晒晒太阳",
            "daily_needs",
            "fulfilled",
            yellow,
            "彭奶奶行动不便，家中无轮椅",
            "社区志愿者送去轮椅一台，并推老人下楼晒太阳",
        ),
        (liu, "希望有人陪着下象棋、聊聊天", "companionship", "claimed", red, "刘先生独居，喜欢下象棋", None),
        (liu, "家里厨房水龙头漏水，想请人修一修", "repair", "fulfilled", yellow, None, "蓝色小分队上门更换水龙头"),
    ]
    for i, h in enumerate(demo_households_at("邮电巷小区1号楼")[:5]):
        title, cat = NEIGHBOURS[i]
        items.append((h, title, cat, "posted" if i < 4 else "claimed", red if i == 4 else None, None, None))
    for (title, cat, status), h in zip(SANZHAO, demo_households_at("三兆家园1号楼")[:2]):
        items.append((h, title, cat, status, None, None, None))
    return items


def seed_wishes() -> int:
    """Idempotent demo step; returns rows added."""
    added, moment = 0, now()
    for h, title, cat, status, team, details, note in _items():
        if h is None or db.session.scalar(select(Wish.id).where(Wish.household_id == h.id, Wish.title == title)):
            continue
        if status in ("claimed", "fulfilled") and team is None:
            continue
        w = Wish(
            household_id=h.id,
            title=title,
            category=cat,
            status=status,
            grid_id=h.grid_id,
            details=details,
            posted_at=moment - dt.timedelta(days=20),
        )
        if status in ("claimed", "fulfilled"):
            w.claimed_by_team_id, w.claimed_at = team.id, moment - dt.timedelta(days=15)
        if status == "fulfilled":
            w.fulfilled_at, w.fulfilment_note = moment - dt.timedelta(days=8), note
        if status == "withdrawn":
            w.withdrawn_at, w.withdraw_reason = moment - dt.timedelta(days=5), "物业已统一更换楼道灯"
        db.session.add(w)
        added += 1
    db.session.flush()
    return added + _claimed_by_a_party_member(moment)


def _claimed_by_a_party_member(moment) -> int:
    """Grandma Peng, an old party member, asks for someone to read her the party paper; a party member of the
    volunteers takes it on himself (an individual claim, no team)."""
    peng = demo_household("彭奶奶")
    if peng is None or db.session.scalar(select(Wish.id).where(Wish.household_id == peng.id, Wish.title == PARTY_WISH)):
        return 0
    member = db.session.scalar(
        select(Volunteer).where(Volunteer.party_member.is_(True), Volunteer.active.is_(True)).order_by(Volunteer.id)
    )
    if member is None:
        return 0
    db.session.add(
        Wish(
            household_id=peng.id,
            title=PARTY_WISH,
            category="companionship",
            status="claimed",
            grid_id=peng.grid_id,
            posted_at=moment - dt.timedelta(days=6),
            claimed_by_volunteer_id=member.id,
            claimed_at=moment - dt.timedelta(days=5),
        )
    )
    db.session.flush()
    return 1
