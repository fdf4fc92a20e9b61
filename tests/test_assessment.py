"""网格员考核: a leader's page per grid worker and period — km walked from patrol tracks, grids walked, visits
done vs due, incidents found/closed/on time, wishes — with the small-count rule and CSV/XLSX exports."""

import csv
import datetime as dt
import io

from openpyxl import load_workbook
from sqlalchemy import func, select

from app.areas.models import Area
from app.auth.models import User
from app.core.extensions import db
from app.core.time import TZ
from app.households.models import Household, Visit
from app.incidents.models import Incident, IncidentCategory
from app.patrols.models import Device, Patrol, Position

PERIOD = "from=2026-06-01&to=2026-06-30"
JUNE = dt.datetime(2026, 6, 10, 9, 0, tzinfo=TZ)


def user(name):
    return db.session.scalar(select(User).where(User.username == name))


def grid_point():
    grid = db.session.scalar(select(Area).where(Area.code == "620103002001001"))
    pt = db.session.execute(
        select(func.ST_X(func.ST_PointOnSurface(grid.geom)), func.ST_Y(func.ST_PointOnSurface(grid.geom)))
    ).one()
    return grid, pt


def walk(worker, lon, lat):
    """A June grid walk: four good fixes 0.001° of longitude apart (~90 m each) a minute apart, a spike and
    a fix of poor accuracy (neither counts)."""
    device = Device(identifier=f"assess-{worker.id}", user_id=worker.id, name="phone", kind="web")
    patrol = Patrol(
        kind="grid_walk",
        title="六月巡查",
        state="finished",
        area_id=worker.area_id,
        created_by=worker.id,
        started_at=JUNE,
        ended_at=JUNE + dt.timedelta(hours=1),
    )
    db.session.add_all([device, patrol])
    db.session.flush()
    fixes = [(lon - 0.001 * i, lat, 5.0) for i in range(4)] + [(lon + 5, lat, 5.0), (lon - 0.004, lat, 500.0)]
    for i, (x, y, acc) in enumerate(fixes):
        db.session.add(
            Position(
                device_id=device.id,
                fixed_at=JUNE + dt.timedelta(minutes=i),
                user_id=worker.id,
                patrol_id=patrol.id,
                geom=f"SRID=4326;POINT({x} {y})",
                accuracy=acc,
                source="web",
            )
        )
    db.session.flush()


def reported(worker, lon, lat, hours_to_close=None):
    cat = db.session.scalar(select(IncidentCategory).order_by(IncidentCategory.id))
    inc = Incident(
        category_id=cat.id,
        source="grid_worker",
        description="六月发现",
        reported_by=worker.id,
        reported_at=JUNE,
        state_changed_at=JUNE,
        geom=f"SRID=4326;POINT({lon} {lat})",
    )
    if hours_to_close is not None:
        inc.state, inc.closed_at = "closed", JUNE + dt.timedelta(hours=hours_to_close)
    db.session.add(inc)
    db.session.flush()


def visits(worker, n):
    h = db.session.scalar(select(Household).where(Household.grid_id.is_not(None)).order_by(Household.id))
    for i in range(n):
        v = Visit(household_id=h.id, visited_at=JUNE + dt.timedelta(days=i), purpose="greeting", grid_id=h.grid_id)
        v.visitors = [worker]
        db.session.add(v)
    db.session.flush()


def story(worker):
    _grid, (lon, lat) = grid_point()
    walk(worker, lon, lat)
    reported(worker, lon, lat, hours_to_close=10)  # on time
    reported(worker, lon, lat, hours_to_close=2000)  # closed late
    reported(worker, lon, lat)  # open
    visits(worker, 3)


def row_of(csv_text, name):
    rows = list(csv.reader(io.StringIO(csv_text.lstrip("\ufeff"))))
    return dict(zip(rows[0], next(r for r in rows if r[0] == name)))


def test_a_leader_sees_each_grid_workers_month_with_small_counts_hidden(client, auth, demo):
    worker = user("gridworker")
    story(worker)
    auth.login("leader")
    page = client.get(f"/assessment/?{PERIOD}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "网格员考核" in text and worker.display_name in text and "巡查里程" in text
    row = row_of(client.get(f"/assessment/?{PERIOD}&format=csv").get_data(as_text=True), worker.display_name)
    assert row["巡查里程（公里）"] in ("0.3", "0.27")  # three good steps of ~90 m; the spike and the poor fix left out
    assert row["走过的网格（个）"] == "1"
    assert (row["发现上报事件（件）"], row["其中已结案（件）"], row["其中按时结案（件）"]) == ("3", "2", "1")
    assert row["入户走访（次）"] == "<5"  # leaders read no household files: 3 visits is a small count
    # Community staff read the files: the exact number.
    auth.logout()
    auth.login("staff")
    row = row_of(client.get(f"/assessment/?{PERIOD}&format=csv").get_data(as_text=True), worker.display_name)
    assert row["入户走访（次）"] == "3"


def test_one_workers_page_compares_with_the_period_before(client, auth, demo):
    worker = user("gridworker")
    story(worker)
    auth.login("staff")
    text = client.get(f"/assessment/workers/{worker.id}?{PERIOD}").get_data(as_text=True)
    assert worker.display_name in text and "上期" in text and "2026-05-02" in text and "620103002001001" in text


def test_exports_are_safe_and_xlsx_opens(client, auth, demo):
    worker = user("gridworker")
    worker.display_name = '=HYPERLINK("x")'
    db.session.flush()
    auth.login("leader")
    csv_text = client.get(f"/assessment/?{PERIOD}&format=csv").get_data(as_text=True)
    assert "'=HYPERLINK" in csv_text
    r = client.get(f"/assessment/?{PERIOD}&format=xlsx")
    assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet")
    ws = load_workbook(io.BytesIO(r.data)).active
    assert ws.cell(1, 1).value == "网格员" and any(str(c.value).startswith("'=HYPERLINK") for c in ws["A"])
    assert "20260601-20260630.xlsx" in r.headers["Content-Disposition"]


def test_who_may_see_the_assessment(client, auth, demo):
    auth.login("gridworker")
    assert client.get("/assessment/").status_code == 403
    auth.logout()
    auth.login("zjystaff")  # staff of another community
    text = client.get(f"/assessment/?{PERIOD}").get_data(as_text=True)
    assert user("gridworker").display_name not in text
    assert client.get(f"/assessment/workers/{user('gridworker').id}").status_code == 404
    assert client.get("/assessment/?area=620103002001").status_code == 404
    assert client.get("/assessment/?from=June").status_code == 400
    assert client.get("/assessment/?from=2026-06-30&to=2026-06-01").status_code == 400
    auth.logout()
    auth.login("leader")
    english = client.get(f"/assessment/?{PERIOD}&lang=en").get_data(as_text=True)
    assert "Grid worker assessment" in english
