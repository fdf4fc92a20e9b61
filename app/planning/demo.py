"""The demo's e-bike survey of Zhangjiayuan (张家园): the door-to-door survey before the chargers.

The compounds that got chargers: most bikes charge at them now. The old compounds still without
(东片, 南片): cables hung down stairwells and from windows, bikes carried upstairs — the hazards are
reported as incidents by the survey, as a grid worker's phone would. One building of 南片 is left
unsurveyed, so the page shows an estimate from its households. Idempotent: a surveyed building is skipped.

Songjiatan (宋家滩): residents' reports of shared bikes parked in the lane at the village's north-east
corner, far from every zone: the bike-zone gaps page suggests a zone there. Added with the survey (the
step adds nothing once any survey exists).
"""

import datetime as dt

from sqlalchemy import select

from app.auth.services import find_user
from app.basemap.models import Building
from app.core.extensions import db
from app.core.time import now
from app.incidents import services as incidents
from app.planning.models import EbikeSurvey
from app.planning.schemas import SurveyIn
from app.planning.surveys import record_survey

SURVEYOR = "zjystaff"  # 张家园社区 秦琛
# building name, e-bikes, (flat, stairwell, window cable, charger), hazards, note
SURVEYS = [
    ("金昌南路大院子1号楼", 31, (2, 0, 0, 29), [], "充电桩安装后基本在桩上充电"),
    ("金昌南路大院子2号楼", 28, (1, 0, 0, 27), [], None),
    ("金昌南路小院子1号楼", 19, (3, 0, 0, 16), [], None),
    ("三爱堂小区1号楼", 26, (2, 1, 0, 23), [], None),
    ("仁恒晶城小区1号楼", 41, (4, 0, 0, 37), [], None),
    (
        "张家园老旧小区东片1号楼",
        34,
        (10, 14, 10, 0),
        ["stairwell_charging", "window_cable"],
        "楼道里私拉电线充电，二楼窗户拉线到地面",
    ),
    (
        "张家园老旧小区东片2号楼",
        29,
        (12, 12, 5, 0),
        ["stairwell_charging", "carried_upstairs"],
        "电动车推上楼在楼道充电",
    ),
    ("张家园老旧小区东片3号楼", 31, (9, 15, 7, 0), ["window_cable", "blocked_exit"], "楼道堆放电动车，堵塞出口"),
    ("张家园老旧小区东片4号楼", 27, (11, 10, 6, 0), ["stairwell_charging"], None),
    ("张家园老旧小区南片1号楼", 33, (8, 16, 9, 0), ["stairwell_charging", "window_cable"], "从窗户拉线充电"),
    ("张家园老旧小区南片2号楼", 30, (14, 10, 6, 0), ["carried_upstairs"], "电动车推上楼入户充电"),
]


LANE = (103.8960, 36.0790)  # 宋家滩村东北角小巷: more than 200 m from every bike zone
LANE_REPORTS = [(0, 0, 6), (0.00008, 0.00003, 4), (-0.00006, 0.00005, 8), (0.00004, -0.00007, 5), (0.0001, 0.00008, 7)]


def _lane_reports() -> int:
    for k, (dx, dy, bikes) in enumerate(LANE_REPORTS):
        incidents.report_incident(
            category_code="bikes.misparked",
            description="村东北角小巷口共享单车乱停放，堵住进出通道",
            lon=LANE[0] + dx,
            lat=LANE[1] + dy,
            address="宋家滩村东北角小巷",
            source="hotline",
            attributes={"bike_count": bikes, "operator": "hello"},
            reported_at=now() - dt.timedelta(days=3 + 9 * k),
            commit=False,
        )
    return len(LANE_REPORTS)


def seed_surveys() -> int:
    """The Zhangjiayuan survey and the Songjiatan lane reports; returns how many rows it added."""
    user = find_user(SURVEYOR)
    if user is None or db.session.scalar(select(EbikeSurvey.id).limit(1)) is not None:
        return 0
    added = _lane_reports()
    for k, (name, bikes, (flat, stair, cable, charger), hazards, note) in enumerate(SURVEYS):
        bid = db.session.scalar(select(Building.id).where(Building.name == name))
        if bid is None or db.session.scalar(select(EbikeSurvey.id).where(EbikeSurvey.building_id == bid).limit(1)):
            continue
        body = SurveyIn(
            building_id=bid,
            surveyed_on=dt.date(2024, 4, 8) + dt.timedelta(days=k % 5),
            ebikes=bikes,
            charge_flat=flat,
            charge_stairwell=stair,
            charge_window_cable=cable,
            charge_charger=charger,
            hazards=hazards,
            note=note,
        )
        record_survey(user, body, commit=False)
        added += 1
    db.session.flush()
    return added
