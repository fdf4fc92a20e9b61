"""Demo patrols from the seed page: the 12 April "弯腰一秒，拾起文明" cleanup of Hualinshan's green
belt, two Songjiatan shared-bike rectification rounds with bad-parking spots, and the demo
tracking device of the user ``patrol`` (identifier :data:`DEMO_DEVICE`).

Tracks are generated along plausible paths (walking pace, a fix every 5 s, a little GPS noise,
a few spikes and poor fixes that the cleaning drops), deterministically, so figures are stable.
"""

import datetime as dt
import itertools
import math
import random

from sqlalchemy import select

from app.areas.services import get_area_by_code
from app.auth.services import find_user
from app.core.extensions import db
from app.core.registry import register_demo_step
from app.core.time import TZ
from app.patrols.ingest import store_fixes
from app.patrols.models import Device, Patrol, PatrolTeam
from app.patrols.parking import new_spot
from app.patrols.tracks import refresh_track
from gis.tracks import Fix

DEMO_DEVICE = "sjt-patrol-01"

CLEANUP_TITLE = "“弯腰一秒，拾起文明”华林山绿化带清洁行动"
SJT_TITLES = ("宋家滩共享单车整治巡查（主干道、楼院）", "宋家滩共享单车整治巡查（背街小巷）")


def _walk(
    points, start: dt.datetime, speed_ms: float, seed: int, every_s: int = 5, spikes: int = 0, poor: int = 0
) -> list[Fix]:
    """Fixes along a polyline of (lon, lat) at ``speed_ms``, with noise, spikes and poor fixes."""
    rnd = random.Random(seed)  # nosec B311 (reproducible demo noise, not a secret)
    fixes, t = [], start
    ox = oy = 0.0  # GPS error drifts slowly (it is not white noise), metres
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        dx = (x1 - x0) * 111_320 * math.cos(math.radians(y0))
        dy = (y1 - y0) * 110_540
        length = math.hypot(dx, dy)
        steps = max(1, int(length / (speed_ms * every_s)))
        for i in range(steps):
            f = i / steps
            # People stop to pick litter or re-park bikes: pace varies.
            ox, oy = 0.95 * ox + rnd.gauss(0, 0.4), 0.95 * oy + rnd.gauss(0, 0.4)
            lon = x0 + (x1 - x0) * f + ox / 111_320 / math.cos(math.radians(y0))
            lat = y0 + (y1 - y0) * f + oy / 110_540
            fixes.append(
                Fix(
                    lat=lat,
                    lon=lon,
                    fixed_at=t,
                    accuracy=round(rnd.uniform(4, 12), 1),
                    speed=round(speed_ms * rnd.uniform(0.6, 1.4), 2),
                    battery=None,
                )
            )
            t += dt.timedelta(seconds=every_s * rnd.choice((1, 1, 1, 2)))
    for k in range(spikes):  # multipath jumps of 300–600 m, one fix each
        f = fixes[len(fixes) * (k + 1) // (spikes + 1)]
        f.lat += rnd.choice((-1, 1)) * rnd.uniform(300, 600) / 110_540
        f.accuracy = 15.0
    for k in range(poor):  # fixes with poor accuracy (indoors, under trees)
        f = fixes[len(fixes) * (2 * k + 1) // (2 * poor + 2) + 7]
        f.accuracy = 120.0
        f.lon += 80 / 111_320
    return fixes


def _user(name):
    return find_user(name)


def _team(name, leader, members, area_code, note):
    team = db.session.scalar(select(PatrolTeam).where(PatrolTeam.name == name))
    if team is None:
        area = get_area_by_code(area_code)
        team = PatrolTeam(name=name, leader_id=leader.id, area_id=area.id if area else None, note=note)
        team.members = [m for m in members if m is not None]
        db.session.add(team)
        db.session.flush()
    return team


def _device(user, identifier, name, kind):
    d = db.session.scalar(select(Device).where(Device.identifier == identifier))
    if d is None:
        d = Device(identifier=identifier, user_id=user.id, name=name, kind=kind, active=True)
        db.session.add(d)
        db.session.flush()
    return d


def _patrol(title, kind, area_code, team, creator, people, start, end, **results):
    p = db.session.scalar(select(Patrol).where(Patrol.title == title))
    if p is not None:
        return p, False
    p = Patrol(
        title=title,
        kind=kind,
        area_id=get_area_by_code(area_code).id,
        team_id=team.id,
        created_by=creator.id,
        state="finished",
        planned_start=start,
        started_at=start,
        ended_at=end,
        **results,
    )
    p.participants = [u for u in people if u is not None]
    db.session.add(p)
    db.session.flush()
    return p, True


# 12 April: the green belt along the south and east edges of Hualinshan, a bit over an hour.
BELT = (
    (103.7798, 36.0438),
    (103.7850, 36.0437),
    (103.7903, 36.0438),
    (103.7903, 36.0470),
    (103.7902, 36.0503),
    (103.7903, 36.0522),
)

# Songjiatan: main road east–west, into the residential courtyards, and the back lanes.
SJT_ROUNDS = (
    (
        SJT_TITLES[0],
        dt.datetime(2026, 4, 15, 15, 0, tzinfo=TZ),
        [
            (103.8898, 36.0788),
            (103.8940, 36.0789),
            (103.8985, 36.0788),
            (103.8985, 36.0772),
            (103.8965, 36.0772),
            (103.8965, 36.0750),
            (103.8995, 36.0750),
            (103.8995, 36.0768),
        ],
        [
            (103.8912, 36.0791, 7, True, "主干道东口人行道上堆放"),
            (103.8958, 36.0786, 4, True, "公交站旁"),
            (103.8978, 36.0773, 5, True, "楼院门口堵塞通道"),
            (103.8968, 36.0758, 3, True, "楼院内消防通道"),
            (103.8992, 36.0752, 2, False, "电动车占道，已联系车主"),
        ],
        {"bikes_reparked": 21, "riders_guided": 14},
    ),
    (
        SJT_TITLES[1],
        dt.datetime(2026, 4, 22, 16, 30, tzinfo=TZ),
        [
            (103.8905, 36.0740),
            (103.8930, 36.0727),
            (103.8960, 36.0722),
            (103.8990, 36.0718),
            (103.8990, 36.0735),
            (103.8955, 36.0738),
            (103.8925, 36.0745),
        ],
        [
            (103.8918, 36.0733, 6, True, "背街小巷入口"),
            (103.8949, 36.0724, 3, True, "小卖部门前"),
            (103.8985, 36.0719, 9, True, "巷尾空地，距停放区较远，建议新设停放点"),
            (103.8940, 36.0741, 2, True, ""),
        ],
        {"bikes_reparked": 20, "riders_guided": 9},
    ),
)


def seed_patrols() -> int:
    """Teams, the demo device, the cleanup and the two rectification patrols (idempotent)."""
    patrol, grid = _user("patrol"), _user("gridworker")
    if patrol is None or grid is None:
        return 0
    hls = [_user(n) for n in ("hls2", "hls3", "hls4", "liailan", "staff")]
    sjt = [_user(f"sjt{i}") for i in range(1, 5)]
    dev = _device(patrol, DEMO_DEVICE, "李子琴的手机（Traccar Client）", "traccar")
    grid_dev = _device(grid, "hls-gridworker-01", "马丽的手机（Traccar Client）", "traccar")
    cteam = _team(
        "华林山“四色”志愿服务小分队",
        grid,
        [grid] + hls,
        "620103002001",
        "党员带头的志愿服务队：幸福来敲门、弯腰一秒拾起文明",
    )
    bteam = _team(
        "宋家滩共享单车整治巡查队",
        patrol,
        [patrol] + sjt,
        "620102011002",
        "网格员和志愿者巡查主干道、楼院、背街小巷，规范停放、引导骑行人",
    )
    added = _seed_cleanup(grid, grid_dev, cteam, [grid] + hls)
    added += _seed_rectification(patrol, dev, bteam, [patrol] + sjt[:2])
    db.session.flush()
    return added


def _seed_cleanup(grid, grid_dev, team, people) -> int:
    """The cleanup of 12 April along the green belt (rows added)."""
    start = dt.datetime(2026, 4, 12, 9, 0, tzinfo=TZ)
    fixes = _walk(BELT, start, 0.55, seed=412, spikes=3, poor=4)
    p, new = _patrol(
        CLEANUP_TITLE,
        "cleanup",
        "620103002001",
        team,
        grid,
        people,
        start,
        fixes[-1].fixed_at + dt.timedelta(minutes=2),
        cleanup_width_m=12,
        bags=36,
        weight_kg=85,
        volunteers=18,
        note="清理绿化带内的垃圾、落叶和烟头；党员志愿者带头，居民自愿参加",
    )
    if not new:
        return 0
    store_fixes(grid_dev, fixes, "demo", p.id)
    refresh_track(p)
    return 1 + len(fixes)


def _seed_rectification(patrol, dev, team, people) -> int:
    """Songjiatan's two rectification rounds with their bad-parking spots (rows added)."""
    added = 0
    for i, (title, start, path, spots, results) in enumerate(SJT_ROUNDS):
        fixes = _walk(path, start, 0.9, seed=415 + i, spikes=1, poor=2)
        p, new = _patrol(
            title,
            "bike_rectification",
            "620102011002",
            team,
            patrol,
            people,
            start,
            fixes[-1].fixed_at + dt.timedelta(minutes=1),
            **results,
        )
        if not new:
            continue
        store_fixes(dev, fixes, "demo", p.id)
        refresh_track(p)
        added += 1 + len(fixes)
        step = len(fixes) // (len(spots) + 1)
        for k, (x, y, bikes, reparked, note) in enumerate(spots):
            new_spot(
                p.id, x, y, found_at=fixes[(k + 1) * step].fixed_at, bikes=bikes, reparked=reparked, note=note or None
            )
            added += 1
    return added


def register() -> None:
    """Add the patrol demo step to ``flask seed demo``."""
    register_demo_step("patrols", seed_patrols, order=60)
