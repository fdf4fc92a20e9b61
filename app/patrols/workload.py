"""The patrols' worker measures (网格员考核): kilometres walked on patrols and grids walked, from the phones'
positions (``positions``, by ``user_id``), with the track rules of :mod:`app.patrols.tracks`: fixes of poor
accuracy are dropped, and a step faster than a person moves (``MAX_SPEED_MS``) or after a long gap is not
counted as walked."""

import datetime as dt

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, text

from app.core.extensions import db
from app.core.workload import Measure, register_measure
from app.patrols.tracks import MAX_SEGMENT_GAP_S
from gis.tracks import MAX_ACCURACY_M, MAX_SPEED_MS

# Constant SQL texts with bound parameters only.
KM_SQL = text("""
WITH fixes AS (
    SELECT user_id, device_id, patrol_id, fixed_at, geom,
           lag(geom) OVER w AS prev_geom, extract(epoch FROM fixed_at - lag(fixed_at) OVER w) AS dt_s
    FROM positions
    WHERE user_id IN :ids AND fixed_at >= :t0 AND fixed_at < :t1 AND patrol_id IS NOT NULL
      AND (accuracy IS NULL OR accuracy <= :max_acc)
    WINDOW w AS (PARTITION BY device_id, patrol_id ORDER BY fixed_at)
), steps AS (
    SELECT user_id, ST_Distance(geom::geography, prev_geom::geography) AS m, dt_s FROM fixes
    WHERE prev_geom IS NOT NULL AND dt_s > 0 AND dt_s <= :gap
)
SELECT user_id, sum(m) / 1000.0 FROM steps WHERE m / dt_s <= :max_v GROUP BY user_id
""").bindparams(bindparam("ids", expanding=True))

GRIDS_SQL = text("""
SELECT p.user_id, count(DISTINCT a.id)
FROM positions p
JOIN areas a ON a.level = 'grid' AND a.geom && p.geom AND ST_Intersects(a.geom, p.geom)
WHERE p.user_id IN :ids AND p.fixed_at >= :t0 AND p.fixed_at < :t1
  AND (p.accuracy IS NULL OR p.accuracy <= :max_acc)
GROUP BY p.user_id
""").bindparams(bindparam("ids", expanding=True))

OWN_GRIDS_SQL = text("""
SELECT gw.user_id, count(*) FROM grid_workers gw JOIN areas a ON a.id = gw.area_id
WHERE gw.user_id IN :ids AND EXISTS (
    SELECT 1 FROM positions p
    WHERE p.user_id = gw.user_id AND p.fixed_at >= :t0 AND p.fixed_at < :t1
      AND (p.accuracy IS NULL OR p.accuracy <= :max_acc) AND p.geom && a.geom AND ST_Intersects(a.geom, p.geom))
GROUP BY gw.user_id
""").bindparams(bindparam("ids", expanding=True))


def _run(stmt, ids: list[int], start: dt.datetime, end: dt.datetime) -> dict[int, float]:
    if not ids:
        return {}
    params = {"ids": ids, "t0": start, "t1": end, "max_acc": MAX_ACCURACY_M, "max_v": MAX_SPEED_MS}
    params["gap"] = MAX_SEGMENT_GAP_S
    return {u: float(v) for u, v in db.session.execute(stmt, params)}


def km_walked(ids, start, end):
    return _run(KM_SQL, ids, start, end)


def grids_walked(ids, start, end):
    return _run(GRIDS_SQL, ids, start, end)


def own_grids_walked(ids, start, end):
    return _run(OWN_GRIDS_SQL, ids, start, end)


register_measure(
    Measure("km_walked", _l("巡查里程"), _l("公里"), km_walked, digits=1, order=10, help=_l("巡查中手机轨迹的步行距离"))
)
register_measure(
    Measure(
        "grids_walked", _l("走过的网格"), _l("个"), grids_walked, order=11, help=_l("有一个有效定位点落在其中的网格")
    )
)
register_measure(
    Measure(
        "own_grids_walked",
        _l("走过的责任网格"),
        _l("个"),
        own_grids_walked,
        order=12,
        help=_l("其负责的网格中走过的个数"),
    )
)
