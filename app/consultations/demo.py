"""Demo consultations: the seed story's round-table council (楼院圆桌议事厅) of Hualinshan, its meeting on
the Xijin East Road sewage overflow and the 九间楼 courtyard, and the rest of the story the meeting
decided (the repair, the check, the close, the evaluation; the cleaning rota), followed to done.

Runs after the incidents' demo step, which reports and files the story's two incidents.
"""

import datetime as dt

from sqlalchemy import select

from app.auth.policy import Scope
from app.auth.services import find_user
from app.consultations.models import Council, Meeting
from app.consultations.services import create_council, hold_meeting, update_decision
from app.core.extensions import db
from app.core.time import TZ
from app.incidents.demo import STORY_JIUJIANLOU, STORY_SEWAGE, story_incident
from app.incidents.services import departments, transition

EVERYTHING = Scope(everything=True)
COUNCIL = "楼院圆桌议事厅"
TOPIC = "西津东路房管所门前污水外溢、九间楼卫生无人清扫（逢四来说事）"


def _at(y, m, d, h, mi=0) -> dt.datetime:
    return dt.datetime(y, m, d, h, mi, tzinfo=TZ)


def _council(liailan, staff) -> Council:
    council = db.session.scalar(select(Council).where(Council.name == COUNCIL))
    if council is not None:
        return council
    return create_council(
        EVERYTHING,
        COUNCIL,
        "620103002001",
        "华林山社区“微协商”：居民代表、驻区单位、物业服务企业围坐议事，逢四来说事。",
        [
            {"name": "李爱兰", "role": "mediator", "organisation": "华林山社区调解室", "user_id": liailan.id},
            {"name": "张秀英", "role": "resident_rep", "organisation": "西津东路居民代表", "phone": "13800000011"},
            {"name": "刘建国", "role": "resident_rep", "organisation": "九间楼居民代表", "phone": "13800000012"},
            {"name": "赵所长", "role": "work_unit", "organisation": "西津东路房管所"},
            {"name": "孙经理", "role": "property_company", "organisation": "华林山物业服务站"},
            {"name": "周干事", "role": "staff", "organisation": "华林山社区居委会", "user_id": staff.id},
        ],
    )


def _meeting(council: Council, liailan, sewage: int, jjl: int) -> Meeting:
    return hold_meeting(
        council.id,
        EVERYTHING,
        liailan,
        held_at=_at(2024, 4, 14, 9, 30),
        place="华林山社区议事厅",
        topic=TOPIC,
        minutes="居民代表反映污水外溢已近一周；房管所表示管道老化需更换；物业愿意协助清运。"
        "九间楼无物业管理，居民同意轮流清扫，社区提供工具。",
        participant_ids=[m.id for m in council.members],
        incident_ids=[sewage, jjl],
        agenda=[
            {"title": "西津东路房管所门前污水外溢", "note": "居民反映已近一周，影响出行", "incident_id": sewage},
            {"title": "九间楼楼院卫生无人清扫", "note": "无物业管理的老旧楼院", "incident_id": jjl},
        ],
        decisions=[
            {
                "text": "房管所牵头更换门前破损排污管道并疏通，社区协调居民配合施工",
                "owner": "西津东路房管所",
                "due_on": dt.date(2024, 4, 21),
                "incident_id": sewage,
                "agenda_no": 1,
            },
            {
                "text": "九间楼建立居民轮流清扫制度，社区提供清扫工具，网格员每周检查",
                "owner": "华林山社区居委会",
                "due_on": dt.date(2024, 4, 30),
                "incident_id": jjl,
                "agenda_no": 2,
            },
        ],
    )


def _follow_up(sewage: int, jjl: int, staff, liailan, grid) -> None:
    """What the meeting decided, done: the housing office repairs the sewage pipe and the community checks
    and closes; at 九间楼 the community organises a cleaning rota."""
    dept = {d.code: d.id for d in departments()}
    steps = [  # incident, state, who, when, note[, data]
        (
            sewage,
            "dispatched",
            staff,
            (2024, 4, 15, 9, 0),
            "按议事厅决议派遣西津东路房管所维修。",
            {"department_id": dept["housing"]},
        ),
        (sewage, "in_progress", liailan, (2024, 4, 16, 8, 30), "房管所施工队进场，更换排污管道。"),
        (sewage, "responded", liailan, (2024, 4, 20, 17, 0), "管道已更换疏通，路面已冲洗。"),
        (sewage, "closed", staff, (2024, 4, 22, 10, 0), "核查：门前无积水、无异味，居民确认问题解决，结案。"),
        (sewage, "evaluated", staff, (2024, 4, 24, 10, 0), "回访来电居民，满意。", {"rating": 5}),
        (
            jjl,
            "dispatched",
            staff,
            (2024, 4, 15, 9, 30),
            "按议事厅决议由社区组织居民轮流清扫。",
            {"department_id": dept["community"]},
        ),
        (jjl, "in_progress", grid, (2024, 4, 16, 9, 0), "排出清扫轮值表。"),
        (jjl, "responded", grid, (2024, 4, 19, 18, 0), "九间楼楼院已清扫干净。"),
        (jjl, "closed", staff, (2024, 4, 20, 9, 0), "核查合格，结案。"),
    ]
    for incident_id, state, who, at, note, *data in steps:
        transition(incident_id, state, who, EVERYTHING, at=_at(*at), note=note, data=data[0] if data else None)


def seed_consultations() -> int:
    """The story's council, meeting and what followed (idempotent: once the meeting exists, nothing)."""
    sewage, jjl = story_incident(STORY_SEWAGE), story_incident(STORY_JIUJIANLOU)
    if sewage is None or jjl is None or db.session.scalar(select(Meeting.id).where(Meeting.topic == TOPIC)):
        return 0
    staff, liailan, grid = find_user("staff"), find_user("liailan"), find_user("gridworker")
    council = _council(liailan, staff)
    meeting = _meeting(council, liailan, sewage.id, jjl.id)
    _follow_up(sewage.id, jjl.id, staff, liailan, grid)
    for d in meeting.decisions:
        update_decision(
            d.id,
            EVERYTHING,
            "done",
            "管道已更换，4月22日核查结案" if d.incident_id == sewage.id else "轮流清扫已运行，4月20日核查",
            staff,
        )
    return 1
