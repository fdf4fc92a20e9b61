"""Geofences (电子围栏): alerts to an area's staff when a patrol leaves its area, when a phone on an active
patrol falls silent, and when a grid has not been walked for days.

Each check finds the *conditions* that hold now; an **episode** (:class:`GeofenceAlert`) is opened for a
condition that was not already open, and its opening is told once (``app.notices.services.notify``, the key
is the episode's id); an open episode whose condition no longer holds is closed, so the next breach is a new
episode with a new alert. Nothing is told twice for one episode, however often the check runs.

* **left the area** — the latest usable fix (accuracy within ``MAX_ACCURACY_M``) of a person on an active
  patrol lies farther than ``WUWEI_GEOFENCE_MARGIN_M`` from the patrol's area (a grid or a community);
* **silent** — an active patrol has had no fix for ``WUWEI_GEOFENCE_SILENT_MINUTES`` (since its start when
  it has none);
* **not walked** — a grid holds no usable fix of the last ``WUWEI_GEOFENCE_UNWALKED_DAYS`` days (the patrol
  coverage rule), and it has grid workers (a grid nobody keeps is the planners' business, not an alert).

The staff told are those who oversee patrols (``patrols.oversee``) in an area holding the patrol's or the
grid's area. Runs every five minutes as the periodic job ``patrols.geofence`` (``flask jobs worker``) and
by hand as ``flask geofence check``; thresholds from the app config or the environment.
"""

import datetime as dt
import logging
import os
from dataclasses import dataclass

import click
from flask import current_app
from flask.cli import AppGroup
from flask_babel import lazy_gettext as _l
from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, bindparam, select, text
from sqlalchemy.orm import Mapped, mapped_column

from app.auth.models import User
from app.core import jobs
from app.core.extensions import db
from app.core.time import TZ, now
from app.notices.kinds import register_kind
from app.notices.services import notify
from app.patrols.events import overseers
from gis.tracks import MAX_ACCURACY_M

log = logging.getLogger(__name__)

LEFT, SILENT, UNWALKED = "patrol.left_area", "patrol.silent", "grid.unwalked"
register_kind(
    LEFT, _l("巡查离开网格"), _l("%(who)s 的巡查「%(patrol)s」离开了%(area)s（%(time)s，约 %(metres)s 米外）"), order=6
)
register_kind(
    SILENT, _l("巡查手机失联"), _l("巡查「%(patrol)s」已 %(minutes)s 分钟没有收到定位（最后 %(last_at)s）"), order=7
)
register_kind(
    UNWALKED, _l("网格久未巡查"), _l("网格 %(area)s 已 %(days)s 天没有人走过（最后 %(last_at)s）"), email=False, order=8
)
DEFAULTS = {"WUWEI_GEOFENCE_MARGIN_M": 30.0, "WUWEI_GEOFENCE_SILENT_MINUTES": 15.0, "WUWEI_GEOFENCE_UNWALKED_DAYS": 7.0}

geofence_cli = AppGroup(
    "geofence", help="Geofence alerts: patrols leaving their area, silent phones, grids not walked."
)


class GeofenceAlert(db.Model):
    """One episode of a geofence condition, from when it was found until it no longer held."""

    __tablename__ = "geofence_alerts"
    __table_args__ = (
        Index(
            "uq_geofence_alerts_open",
            "kind",
            text("coalesce(patrol_id, 0)"),
            text("coalesce(user_id, 0)"),
            text("coalesce(area_id, 0)"),
            unique=True,
            postgresql_where=text("ended_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    patrol_id: Mapped[int | None] = mapped_column(ForeignKey("patrols.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    told: Mapped[int] = mapped_column(Integer, default=0)


@dataclass(frozen=True)
class Condition:
    kind: str
    patrol_id: int | None
    user_id: int | None
    area_id: int | None
    area_code: str
    params: dict

    @property
    def subject(self) -> tuple:
        return (self.kind, self.patrol_id or 0, self.user_id or 0, self.area_id or 0)


def thresholds(flask_app=None) -> dict[str, float]:
    """The thresholds: the app's config, else the environment, else :data:`DEFAULTS`."""
    cfg = (flask_app or current_app).config
    return {k: float(cfg.get(k) or os.environ.get(k) or d) for k, d in DEFAULTS.items()}


def _local(t: dt.datetime | None) -> str:
    return t.astimezone(TZ).strftime("%Y-%m-%d %H:%M") if t else "—"


# Constant SQL texts with bound parameters only.
LEFT_SQL = text("""
SELECT DISTINCT ON (p.id, f.user_id) p.id AS patrol_id, p.title, f.user_id, a.id AS area_id, a.code, a.name,
       f.fixed_at, ST_Distance(f.geom::geography, a.geom::geography) AS metres
FROM patrols p
JOIN areas a ON a.id = p.area_id
JOIN positions f ON f.patrol_id = p.id AND (f.accuracy IS NULL OR f.accuracy <= :max_acc)
WHERE p.state = 'active'
ORDER BY p.id, f.user_id, f.fixed_at DESC
""")
SILENT_SQL = text("""
SELECT p.id AS patrol_id, p.title, p.created_by AS user_id, a.id AS area_id, a.code,
       (SELECT max(f.fixed_at) FROM positions f WHERE f.patrol_id = p.id) AS last_at, p.started_at
FROM patrols p JOIN areas a ON a.id = p.area_id
WHERE p.state = 'active' AND p.started_at IS NOT NULL
""")
UNWALKED_SQL = text("""
SELECT g.id AS area_id, g.code, g.name
FROM areas g
WHERE g.level = 'grid' AND EXISTS (SELECT 1 FROM grid_workers w WHERE w.area_id = g.id)
  AND NOT EXISTS (SELECT 1 FROM positions f
                  WHERE f.fixed_at >= :since AND f.fixed_at <= :at AND f.geom && g.geom AND ST_Intersects(f.geom, g.geom)
                    AND (f.accuracy IS NULL OR f.accuracy <= :max_acc))
""")
# When each of some grids was last walked before ``since`` (looking back to ``back``): asked only for the
# grids whose episode opens, so a check in the steady state reads the positions of the last days once.
LAST_WALKED_SQL = text("""
SELECT g.id, max(f.fixed_at) FROM areas g
JOIN positions f ON f.geom && g.geom AND ST_Intersects(f.geom, g.geom)
WHERE g.id IN :ids AND f.fixed_at >= :back AND f.fixed_at < :since AND (f.accuracy IS NULL OR f.accuracy <= :max_acc)
GROUP BY g.id
""").bindparams(bindparam("ids", expanding=True))


def _who(user_id: int | None) -> str:
    u = db.session.get(User, user_id) if user_id else None
    return (u.display_name or u.username) if u else "—"


def left_area(margin_m: float) -> list[Condition]:
    rows = db.session.execute(LEFT_SQL, {"max_acc": MAX_ACCURACY_M}).all()
    return [
        Condition(
            LEFT,
            r.patrol_id,
            r.user_id,
            r.area_id,
            r.code,
            {
                "who": _who(r.user_id),
                "patrol": r.title,
                "area": r.name,
                "time": _local(r.fixed_at),
                "metres": round(r.metres),
            },
        )
        for r in rows
        if r.metres > margin_m
    ]


def silent(minutes: float, at: dt.datetime) -> list[Condition]:
    out = []
    for r in db.session.execute(SILENT_SQL).all():
        last = r.last_at or r.started_at
        if at - last >= dt.timedelta(minutes=minutes):
            params = {
                "patrol": r.title,
                "minutes": int((at - last).total_seconds() // 60),
                "last_at": _local(r.last_at),
            }
            out.append(Condition(SILENT, r.patrol_id, None, r.area_id, r.code, params))
    return out


def unwalked(days: float, at: dt.datetime) -> list[Condition]:
    since = at - dt.timedelta(days=days)
    params = {"since": since, "at": at, "max_acc": MAX_ACCURACY_M}
    return [
        Condition(UNWALKED, None, None, r.area_id, r.code, {"area": f"{r.name}（{r.code}）", "days": int(days)})
        for r in db.session.execute(UNWALKED_SQL, params).all()
    ]


def last_walked(conditions: list[Condition], days: float, at: dt.datetime) -> None:
    """Fill ``last_at`` of grids not walked (their last usable fix in the 90 days before), for the message."""
    ids = [c.area_id for c in conditions if c.kind == UNWALKED]
    if not ids:
        return
    since = at - dt.timedelta(days=days)
    params = {"ids": ids, "since": since, "back": since - dt.timedelta(days=90), "max_acc": MAX_ACCURACY_M}
    last = dict(db.session.execute(LAST_WALKED_SQL, params).all())
    for c in conditions:
        if c.kind == UNWALKED:
            c.params["last_at"] = _local(last.get(c.area_id))


def _link(c: Condition) -> str:
    return f"/patrols/{c.patrol_id}" if c.patrol_id else "/patrols/coverage"


def check(flask_app=None, at: dt.datetime | None = None) -> dict[str, int]:
    """Open and tell the episodes that began, close those that ended; counts of each (one transaction)."""
    limits, at = thresholds(flask_app), at or now()
    found = (
        left_area(limits["WUWEI_GEOFENCE_MARGIN_M"])
        + silent(limits["WUWEI_GEOFENCE_SILENT_MINUTES"], at)
        + unwalked(limits["WUWEI_GEOFENCE_UNWALKED_DAYS"], at)
    )
    current = {c.subject: c for c in found}
    open_rows = {
        (a.kind, a.patrol_id or 0, a.user_id or 0, a.area_id or 0): a
        for a in db.session.scalars(select(GeofenceAlert).where(GeofenceAlert.ended_at.is_(None)).with_for_update())
    }
    counts = {"opened": 0, "closed": 0, "told": 0}
    for subject, row in open_rows.items():
        if subject not in current:
            row.ended_at = at
            counts["closed"] += 1
    new = [c for subject, c in current.items() if subject not in open_rows]
    last_walked(new, limits["WUWEI_GEOFENCE_UNWALKED_DAYS"], at)
    staff_of: dict[str, list[int]] = {}
    for c in new:
        row = GeofenceAlert(kind=c.kind, patrol_id=c.patrol_id, user_id=c.user_id, area_id=c.area_id, started_at=at)
        db.session.add(row)
        db.session.flush()
        if c.area_code not in staff_of:
            staff_of[c.area_code] = overseers(c.area_code)
        staff = [u for u in staff_of[c.area_code] if u != c.user_id]
        row.told = notify(staff, c.kind, f"geofence.{row.id}", c.params, _link(c))
        counts["opened"] += 1
        counts["told"] += row.told
    db.session.commit()
    if counts["opened"] or counts["closed"]:
        log.info("geofence: %s", counts)
    return counts


@jobs.queue.periodic(cron="*/5 * * * *", periodic_id="patrols.geofence")
@jobs.queue.task(name="patrols.geofence", queue="notices", queueing_lock="patrols.geofence", pass_context=True)
def geofence_task(context, timestamp: int) -> None:
    """Every five minutes: geofence episodes opened (told once) and closed."""
    flask_app = jobs.flask_app_of(context)
    with flask_app.app_context(), flask_app.test_request_context():
        check(flask_app)


@geofence_cli.command("check")
def check_cmd():
    """Check the geofences now (the jobs worker does it every five minutes)."""
    with current_app.test_request_context():
        counts = check()
    limits = thresholds()
    click.echo(
        f"opened {counts['opened']} episodes ({counts['told']} notices), closed {counts['closed']}; "
        f"margin {limits['WUWEI_GEOFENCE_MARGIN_M']:g} m, silent after {limits['WUWEI_GEOFENCE_SILENT_MINUTES']:g} min, "
        f"grids not walked for {limits['WUWEI_GEOFENCE_UNWALKED_DAYS']:g} days"
    )
