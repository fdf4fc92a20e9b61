"""Heat bins made once (app/heatmaps/bins.py): stored per day, they answer as binning the rows live
would; a write to the incidents drops the bins of the days it touched, and only those; personal
sources, filters, recent days, fine zooms and small areas are never answered from them."""

import datetime as dt
import time

from sqlalchemy import text

from app.core.extensions import db
from app.core.heat import HEAT_SOURCES
from app.core.time import TZ
from app.heatmaps import bins
from app.heatmaps.services import HeatRequest, bin_size, live_cells
from tests.test_heatmaps import MARCH, ZJY, add_incident, get, scatter

CITY = "103.60,35.95,104.10,36.20"
HUALINSHAN = (103.780, 36.044, 103.790, 36.052)


def _days():
    return {r[0] for r in db.session.execute(text("SELECT day FROM heat_bin_days WHERE source = 'incidents'"))}


def _cells(client, **kw):
    r, data = get(client, "/api/v1/heat/cells", **{"bbox": CITY, "zoom": 13, **MARCH, **kw})
    assert r.status_code == 200, r.data
    return data


def test_stored_bins_count_what_live_binning_counts(app, client, auth):
    scatter(40, HUALINSHAN)
    scatter(25, ZJY, seed=2)
    auth.login("admin")
    for shape in ("square", "hexagon"):
        data = _cells(client, shape=shape)
        assert data["total"] == 65
        q = HeatRequest(
            HEAT_SOURCES.get("incidents"),
            tuple(map(float, CITY.split(","))),
            13,
            shape,
            dt.datetime(2021, 3, 1, tzinfo=TZ),
            dt.datetime(2021, 4, 1, tzinfo=TZ),
        )
        from app.auth.policy import Scope

        live = live_cells(q, Scope(everything=True), bin_size(q))
        assert sorted(map(tuple, data["cells"])) == sorted(map(tuple, live))
    assert dt.date(2021, 3, 10) in _days()  # stored: the request made them


def test_a_new_incident_drops_its_days_bins_and_is_counted(client, auth):
    scatter(10, HUALINSHAN)
    auth.login("admin")
    assert _cells(client)["total"] == 10
    stored = _days()
    add_incident(103.785, 36.048, dt.datetime(2021, 3, 5, 10, tzinfo=TZ))
    assert dt.date(2021, 3, 5) not in _days() and len(_days()) == len(stored) - 1
    assert _cells(client)["total"] == 11
    assert _days() == stored


def test_a_state_change_keeps_the_bins_a_move_drops_them(client, auth):
    scatter(10, HUALINSHAN)
    auth.login("admin")
    _cells(client)
    stored = _days()
    db.session.execute(text("UPDATE incidents SET state = 'closed' WHERE reported_at >= '2021-03-01'"))
    assert _days() == stored
    march = "reported_at >= '2021-03-01' AND reported_at < '2021-04-01'"
    moved = db.session.execute(
        text(
            f"UPDATE incidents SET reported_at = '2020-01-01' WHERE id = (SELECT min(id) FROM incidents WHERE {march}) RETURNING id"
        )
    ).scalar()
    assert moved and len(_days()) < len(stored)
    assert _cells(client)["total"] == 9


def test_deleting_incidents_drops_their_days(client, auth):
    scatter(10, HUALINSHAN)
    auth.login("admin")
    _cells(client)
    march = "reported_at >= '2021-03-01' AND reported_at < '2021-04-01'"
    had = {
        r[0]
        for r in db.session.execute(
            text(f"SELECT DISTINCT date(timezone('Asia/Shanghai', reported_at)) FROM incidents WHERE {march}")
        )
    }
    assert had and had <= _days()
    db.session.execute(text(f"DELETE FROM incidents WHERE {march}"))
    assert not had & _days()
    assert _cells(client)["total"] == 0


def test_a_street_leader_sees_only_their_streets_stored_bins(client, auth):
    scatter(6, HUALINSHAN)  # Xiyuan street
    scatter(9, ZJY, seed=2)  # another street
    auth.login("admin")
    assert _cells(client)["total"] == 15  # stored for everyone
    auth.logout()
    auth.login("xiyuan")
    assert _cells(client)["total"] == 6


def test_what_bins_never_answer(app, client, auth):
    from app.auth.policy import Scope

    src = HEAT_SOURCES.get("incidents")
    march = (dt.datetime(2021, 3, 1, tzinfo=TZ), dt.datetime(2021, 4, 1, tzinfo=TZ))
    bbox = tuple(map(float, CITY.split(",")))
    q = HeatRequest(src, bbox, 13, "square", *march)
    everyone = Scope(everything=True)
    assert bins.usable(q, everyone, bin_size(q))
    assert not bins.usable(HeatRequest(src, bbox, 13, "square", *march, filters={"state": ["filed"]}), everyone, 500)
    small = (103.780, 36.044, 103.790, 36.052)
    assert not bins.usable(
        HeatRequest(src, small, 16, "square", *march), everyone, bin_size(HeatRequest(src, small, 16))
    )
    later = march[0] + dt.timedelta(hours=8)
    assert not bins.usable(HeatRequest(src, bbox, 13, "square", later, march[1]), everyone, 500)
    grid_worker = Scope(everything=False, area_code="620103002001001")
    assert not bins.usable(q, grid_worker, bin_size(q))
    personal = [s for s in HEAT_SOURCES if s.personal]
    assert personal and not any(
        bins.usable(HeatRequest(s, bbox, 13, "square", *march), everyone, 500) for s in personal
    )


def test_filtered_and_personal_requests_leave_no_bins(client, auth):
    scatter(10, HUALINSHAN)
    auth.login("admin")
    before = _days()
    assert _cells(client, state="filed")["total"] == 10
    assert _days() == before


def test_an_open_write_makes_the_request_bin_live_instead_of_waiting(app, client, auth):
    scatter(10, HUALINSHAN)
    auth.login("admin")
    before = _days()
    writer = db.engine.connect()  # another session writing incidents, not yet committed
    try:
        writer.execute(text("SELECT pg_advisory_xact_lock_shared(hashtext('heat_bins:incidents'))"))
        t0 = time.perf_counter()
        assert _cells(client)["total"] == 10
        assert time.perf_counter() - t0 < 5 and _days() == before  # nothing stored while the write is open
    finally:
        writer.rollback()
        writer.close()
    assert _cells(client)["total"] == 10 and _days() != before
