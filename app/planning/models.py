"""Planning records: the e-bike survey (电动车入户摸排) per building or household, and named charger plans
(充电桩选址方案). Tables made by migration 0015.

A survey is not personal data when it is per building (counts of bikes and where they charge); a survey
of one household names the household, which only readers of household files see (``household_id``).
"""

import datetime as dt

from sqlalchemy import ARRAY, CheckConstraint, Date, DateTime, ForeignKey, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.extensions import db

# Where the e-bikes of a building charge today, in the order the form asks.
CHARGING_PLACES = ("flat", "stairwell", "window_cable", "charger")
# Hazards a surveyor may tick, and the incident category each one is reported as (app.incidents' demo tree).
HAZARDS = {
    "stairwell_charging": "ebike.indoor",  # 楼道充电
    "carried_upstairs": "ebike.indoor",  # 推车上楼、入户充电
    "window_cable": "ebike.flying_wire",  # 飞线充电（从窗户拉线）
    "blocked_exit": "ebike.indoor",  # 电动车堵塞楼道、安全出口
}
PLAN_STATUSES = ("queued", "running", "done", "failed")


class EbikeSurvey(db.Model):
    """One visit's e-bike survey of a building (or one household in it)."""

    __tablename__ = "ebike_surveys"
    __table_args__ = (
        CheckConstraint("ebikes BETWEEN 0 AND 500", name="ebike_surveys_ebikes_check"),
        CheckConstraint(
            "charge_flat + charge_stairwell + charge_window_cable + charge_charger <= ebikes",
            name="ck_ebike_surveys_places",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id", ondelete="CASCADE"))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id", ondelete="SET NULL"))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="SET NULL"), index=True)
    surveyed_on: Mapped[dt.date] = mapped_column(Date)
    surveyor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    surveyor_name: Mapped[str | None] = mapped_column(String(64))
    ebikes: Mapped[int] = mapped_column(Integer)
    charge_flat: Mapped[int] = mapped_column(Integer, default=0)
    charge_stairwell: Mapped[int] = mapped_column(Integer, default=0)
    charge_window_cable: Mapped[int] = mapped_column(Integer, default=0)
    charge_charger: Mapped[int] = mapped_column(Integer, default=0)
    hazards: Mapped[list[str]] = mapped_column(ARRAY(String(32)), default=list)
    note: Mapped[str | None] = mapped_column(Text)
    photo_path: Mapped[str | None] = mapped_column(String(256))
    incident_ids: Mapped[list[int]] = mapped_column(ARRAY(Integer), default=list)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ChargerPlan(db.Model):
    """A named charger siting run over one area: its parameters, progress and result (ranked sites)."""

    __tablename__ = "charger_plans"
    __table_args__ = (CheckConstraint(f"status IN {PLAN_STATUSES}", name="charger_plans_status_check"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"))
    params: Mapped[dict] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    progress: Mapped[dict] = mapped_column(JSONB, default=dict)
    result: Mapped[dict | None] = mapped_column(JSONB)
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    chargers_made_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
