"""Pages: the e-bike survey form (phone first), charger siting and bike-zone gaps (map pages)."""

from flask import Blueprint, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.auth import policy
from app.planning.areas import plannable_areas
from app.planning.models import CHARGING_PLACES, HAZARDS
from app.planning.surveys import buildings_to_survey, list_surveys

bp = Blueprint("planning", __name__, url_prefix="/planning")


def hazard_labels() -> dict:
    return {
        "stairwell_charging": _("楼道内充电"),
        "carried_upstairs": _("推车上楼、入户充电"),
        "window_cable": _("从窗户拉线飞线充电"),
        "blocked_exit": _("电动车堵塞楼道或安全出口"),
    }


def place_labels() -> dict:
    return {"flat": _("家中"), "stairwell": _("楼道"), "window_cable": _("窗户拉线"), "charger": _("充电桩")}


def page_texts() -> dict:
    """The planning pages' script strings in the current language."""
    return {
        "solving": _("正在计算…"),
        "queued": _("已交给后台计算：%(step)s（%(done)s / %(of)s）", step="{step}", done="{done}", of="{of}"),
        "steps": {
            "demand": _("统计需求"),
            "candidates": _("生成候选点"),
            "distances": _("计算距离"),
            "solving": _("求解"),
            "saving": _("保存"),
        },
        "failed": _("未完成：%(message)s", message="{message}"),
        "rank": _("排名"),
        "site": _("选址"),
        "adds": _("新增覆盖电动车"),
        "load": _("负荷/容量"),
        "over": _("超出容量"),
        "before": _("现有充电桩覆盖：%(c)s 辆，未覆盖 %(u)s 辆", c="{c}", u="{u}"),
        "after": _("方案实施后覆盖：%(c)s 辆，未覆盖 %(u)s 辆（未覆盖楼栋 %(b)s 栋）", c="{c}", u="{u}", b="{b}"),
        "distance": _("距离为直线地理距离（米）：底图中没有步行路网。"),
        "estimated": _("估算"),
        "surveyed": _("摸排"),
        "uncovered": _("未覆盖楼栋"),
        "new_site": _("新选址"),
        "today": _("现有充电桩"),
        "made": _("已生成 %(n)s 个规划充电桩。", n="{n}"),
        "drawn": _("已画候选点：%(n)s 个（点击地图添加，点击点删除）", n="{n}"),
        "cluster": _(
            "建议停放区 %(n)s：%(bikes)s 辆，容量 %(cap)s，距最近停放区 %(m)s 米",
            n="{n}",
            bikes="{bikes}",
            cap="{cap}",
            m="{m}",
        ),
        "make_zone": _("生成规划停放区"),
        "zone_made": _("已生成规划停放区。"),
        "overfull": _(
            "超容量停放区：%(name)s（容量 %(cap)s，单日最多 %(most)s 辆乱停）",
            name="{name}",
            cap="{cap}",
            most="{most}",
        ),
        "none": _("没有建议：乱停点附近都有停放区。"),
        "network": _("网络错误，请重试"),
        "saved": _("已保存。"),
        "kinds": {"entrance": _("楼栋出入口"), "open_space": _("小区空地"), "drawn": _("画的点")},
        "statuses": {"queued": _("排队中"), "running": _("计算中"), "done": _("完成"), "failed": _("失败")},
    }


def _areas() -> list[tuple[str, str, str]]:
    return [(a.code, a.name, a.level) for a in plannable_areas(policy.current_scope())]


@bp.get("/survey")
@login_required
def survey():
    """The e-bike survey form, for a phone during door-to-door visits."""
    policy.require("planning.survey")
    return render_template(
        "planning/survey.html",
        buildings=buildings_to_survey(current_user),
        recent=list_surveys(current_user, None, None, 20),
        hazard_names=hazard_labels(),
        hazards=[(h, hazard_labels()[h]) for h in HAZARDS],
        places=[(p, place_labels()[p]) for p in CHARGING_PLACES],
        api_url=url_for("planning_api.survey_create"),
        import_url=url_for("planning_api.survey_import"),
    )


@bp.get("/chargers")
@login_required
def chargers():
    """Charger siting: demand, candidates, the solved plan on the map, saved plans."""
    policy.require("planning.read")
    return render_template(
        "planning/chargers.html",
        areas=_areas(),
        may_plan=policy.can(current_user, "planning.plan"),
        texts=page_texts(),
        plans_url=url_for("planning_api.plan_list"),
        demand_url=url_for("planning_api.demand"),
    )


@bp.get("/bike-zones")
@login_required
def bike_zones():
    """Bike-zone gaps: clusters of bad parking far from zones, zones over capacity."""
    policy.require("planning.read")
    return render_template(
        "planning/zones.html",
        areas=_areas(),
        may_plan=policy.can(current_user, "planning.plan"),
        texts=page_texts(),
        gaps_url=url_for("planning_api.bike_zone_gaps"),
        make_url=url_for("planning_api.bike_zone_make"),
    )
