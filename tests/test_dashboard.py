"""The leaders' dashboard: figures per unit and period beside the previous period, area scope, exports."""

import csv
import datetime as dt
import io
import re

import sqlalchemy as sa
from openpyxl import load_workbook
from sqlalchemy import text

from app.areas.models import Area
from app.auth.policy import Scope, scope_of
from app.auth.services import find_user
from app.core.extensions import db
from app.core.figures import FIGURES, count_figure, register_figure
from app.core.time import TZ
from app.dashboard.services import build_dashboard
from tests.conftest import remote_references
from tests.test_heatmaps import add_incident

NW = (103.7820, 36.0500)  # Hualinshan grid 001
SE = (103.7880, 36.0450)  # Hualinshan grid 004
MARCH = {"from": "2021-03-01", "to": "2021-03-31"}


def at(day, hour=10, month=3):
    return dt.datetime(2021, month, day, hour, tzinfo=TZ)


def march_story():
    """Five reported in March in grid 001 (two closed), two in grid 004; three in February (previous period)."""
    for d in (2, 5, 9):
        add_incident(*NW, at(d), state="filed")
    add_incident(*NW, at(10), state="closed", closed=at(11))  # 24 h
    add_incident(*NW, at(12), state="closed", closed=at(14))  # 48 h
    add_incident(*SE, at(3), category="drainage.sewage", state="closed", closed=at(3, 16))  # 6 h
    add_incident(*SE, at(20), category="drainage.sewage", state="rejected")
    for d in (1, 10, 20):
        add_incident(*NW, at(d, month=2), state="closed", closed=at(d + 1, month=2))
    db.session.commit()


def figures_of(data, code):
    row = next(u for u in data["units"] + [data["total"]] if u["code"] == code)
    return {k: v for k, v in row["values"].items()}


def test_community_dashboard_counts_per_grid_with_previous_period(app, auth):
    march_story()
    with app.test_request_context():
        data = build_dashboard(
            scope_of(find_user("leader")), "620103002001", at(1, 0), at(31, 0) + dt.timedelta(days=1)
        )
    assert data["unit_level"] == "grid" and len(data["units"]) == 4
    g1, g4, total = (
        figures_of(data, "620103002001001"),
        figures_of(data, "620103002001004"),
        figures_of(data, "620103002001"),
    )
    assert g1["incidents_reported"]["cur"] == 5 and g4["incidents_reported"]["cur"] == 2
    assert total["incidents_reported"]["cur"] == 7
    # The previous period is the 31 days before 1 March (29 Jan – 28 Feb): the three February reports.
    assert g1["incidents_reported"]["prev"] == 3
    assert g1["incidents_closed"]["cur"] == 2 and g4["incidents_closed"]["cur"] == 1
    # Medians are exact to the 1-hour bucket (app.incidents.daily): 24 h and 48 h are read as 24.5 and
    # 48.5, so the median of grid 001 is 36.5 (36.0 exactly) and the community's 24.5 (24.0).
    assert g1["median_close_hours"]["cur"] == 36.5 and total["median_close_hours"]["cur"] == 24.5
    # Filed on 2, 5, 9 March and never closed: past the 54 h the category allows, by 31 March. The rejected one is not overdue.
    assert g1["incidents_overdue"]["cur"] == 3 and g4["incidents_overdue"]["cur"] == 0
    assert g1["incidents_reported"]["change"] == round((5 - 3) * 100 / 3, 1)
    table = next(t for t in data["tables"] if t["name"] == "median_by_category")
    cats = {c["code"]: c for c in table["rows"]}
    assert cats["env.litter"]["n"] == 2 and cats["drainage.sewage"]["median"] == 6.5


def test_chargers_per_thousand_households_per_community(app, auth):
    with app.test_request_context():
        data = build_dashboard(scope_of(find_user("leader")), "620102005", at(1, 0), at(31, 0))
    zjy = figures_of(data, "620102005003")
    chargers = db.session.scalar(
        text(
            "SELECT count(*) FROM chargers c JOIN areas a ON a.id = c.grid_id "
            "WHERE a.code LIKE '620102005003%' AND c.status = 'installed'"
        )
    )
    hh = zjy["households"]["cur"]
    assert chargers == 25 and hh > 0
    assert zjy["chargers_per_1000"]["cur"] == round(25 * 1000 / hh, 2)


def test_empty_period_shows_zeros_not_errors(client, auth):
    auth.login("leader")
    r = client.get("/dashboard?area=620103002001&from=2019-01-01&to=2019-01-31")
    assert r.status_code == 200
    assert "本期无结案事件" in r.get_data(as_text=True)


def test_dashboard_page_shows_figures_and_svg_charts(client, auth):
    march_story()
    auth.login("leader")
    r = client.get("/dashboard?area=620103002001&from=2021-03-01&to=2021-03-31")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "华林山社区第1网格" in html and "<svg" in html and "上报事件数" in html
    assert "人员相关数据按人（户）计" in html  # how personal figures are counted
    assert "与逐条计算的中位数相差不超过一段" in html  # medians are exact to the bucket (app/incidents/daily.py)
    english = client.get("/dashboard?area=620103002001&from=2021-03-01&to=2021-03-31&lang=en").get_data(as_text=True)
    assert "differ from a median of each incident's hours by at most one band" in english
    # Charts are SVG drawn on the server: the page's content carries no script (the chrome's pages.js aside).
    assert remote_references(html) == [] and "<script" not in html.split("<main")[1].split("</main>")[0]


def test_leader_sees_only_their_own_area(client, auth):
    auth.login("xiyuan")
    assert client.get("/dashboard").status_code == 200
    r = client.get("/dashboard?area=620102005003")
    assert r.status_code == 404
    r = client.get("/dashboard/export.csv?area=620102")
    assert r.status_code == 404
    html = client.get("/dashboard").get_data(as_text=True)
    assert "张家园社区" not in html and "华林山社区" in html


def test_dashboard_is_not_for_grid_workers_and_rejects_bad_input(client, auth):
    auth.login("gridworker")
    assert client.get("/dashboard").status_code == 403
    auth.logout()
    auth.login("leader")
    assert client.get("/dashboard?area=12ab").status_code == 400
    assert client.get("/dashboard?from=2021-04-01&to=2021-03-01").status_code == 400
    assert client.get("/dashboard?colour=red").status_code == 400


def test_csv_and_xlsx_exports_hold_the_table(client, auth):
    march_story()
    auth.login("leader")
    r = client.get("/dashboard/export.csv?area=620103002001&from=2021-03-01&to=2021-03-31")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff"))))
    header = rows[0]
    g1 = next(x for x in rows if x[0] == "620103002001001")
    assert g1[header.index("incidents_reported")] == "5"
    assert g1[header.index("incidents_reported_previous")] == "3"
    r = client.get("/dashboard/export.xlsx?area=620103002001&from=2021-03-01&to=2021-03-31")
    assert r.status_code == 200
    wb = load_workbook(io.BytesIO(r.data))
    ws = wb["figures"]
    values = [[c.value for c in row] for row in ws.iter_rows()]
    assert values[0] == header
    assert next(v for v in values if v[0] == "620103002001")[header.index("incidents_reported")] == 7
    assert [c.value for c in wb["median_by_category"][1]] == ["code", "name", "closed", "median_hours"]


def test_personal_figure_is_suppressed_below_five_people_per_grid_and_the_total_does_not_tell(app):
    db.session.execute(
        text(
            "CREATE TABLE scratch_visits2 (id serial PRIMARY KEY, grid_id int, visited_at timestamptz, "
            "geom geometry(Point, 4326))"
        )
    )
    grid = lambda code: db.session.scalar(text("SELECT id FROM areas WHERE code = :c"), {"c": code})
    for code, n in (("620103002001001", 4), ("620103002001002", 6)):
        for _ in range(n):
            db.session.execute(
                text("INSERT INTO scratch_visits2 (grid_id, visited_at) VALUES (:g, '2021-03-05+08')"),
                {"g": grid(code)},
            )
    t = sa.Table(
        "scratch_visits2",
        sa.MetaData(),
        sa.Column("id", sa.Integer),
        sa.Column("grid_id", sa.Integer),
        sa.Column("visited_at", sa.DateTime(timezone=True)),
    )
    register_figure(
        count_figure("scratch_visits", "走访", t.c.visited_at, areas=Area.__table__, personal=True, person=t.c.id)
    )
    try:
        with app.test_request_context():
            data = build_dashboard(Scope(everything=True), "620103002001", at(1, 0), at(31, 0))
        assert figures_of(data, "620103002001001")["scratch_visits"]["cur"] is None
        assert figures_of(data, "620103002001002")["scratch_visits"]["cur"] == 6
        # The total is the sum of the grids shown: 10 would give the hidden grid as 10 - 6.
        assert figures_of(data, "620103002001")["scratch_visits"]["cur"] == 6
    finally:
        del FIGURES["scratch_visits"]


def test_patrol_km_per_grid_and_a_community_patrol_in_the_total_only(app, count_queries):
    """A patrol of the whole community counts for the community's total, not for any one grid; both periods
    and the total come from one statement per figure."""
    area = lambda code: db.session.scalar(text("SELECT id FROM areas WHERE code = :c"), {"c": code})
    for code, started, metres in (
        ("620103002001001", at(5), 3000),
        ("620103002001001", at(5, month=2), 1500),
        ("620103002001", at(6), 2000),
        ("620103002001004", at(2, month=1), 700),
    ):
        db.session.execute(
            text(
                "INSERT INTO patrols (kind, title, state, area_id, cleanup_width_m, started_at, ended_at, distance_m) "
                "VALUES ('grid_walk', 'walk', 'finished', :a, 10, :s, :s + interval '1 hour', :m)"
            ),
            {"a": area(code), "s": started, "m": metres},
        )
    march_story()
    with app.test_request_context():
        build_dashboard(scope_of(find_user("leader")), "620103002001", at(1, 0), at(31, 0) + dt.timedelta(days=1))
        with count_queries() as n:
            data = build_dashboard(
                scope_of(find_user("leader")), "620103002001", at(1, 0), at(31, 0) + dt.timedelta(days=1)
            )
    g1, g4, total = (
        figures_of(data, "620103002001001"),
        figures_of(data, "620103002001004"),
        figures_of(data, "620103002001"),
    )
    assert g1["patrol_km"] == {"cur": 3.0, "prev": 1.5, "change": 100.0}
    assert g4["patrol_km"]["cur"] == 0 and g4["patrol_km"]["prev"] == 0  # January is before both periods
    assert total["patrol_km"]["cur"] == 5.0 and total["patrol_km"]["prev"] == 1.5
    # The area, its units, one statement per figure (overdue: one per period), the daily series, the categories.
    assert n() <= len(data["figures"]) + 1 + 5


def test_area_picker_shows_the_path_siblings_and_children_and_units_link_down(client, auth):
    auth.login("leader")
    html = client.get("/dashboard?area=620102005&from=2021-03-01&to=2021-03-31").get_data(as_text=True)
    picker = html.split('<select name="area">')[1].split("</select>")[0]
    options = dict(re.findall(r'<option value="(\d+)"[^>]*>\u3000*([^<]+)</option>', picker))
    # Above (city, district), beside (the district's other streets), below (the street's communities).
    assert {"6201", "620102", "620102005", "620102010", "620102011", "620102005003"} <= set(options)
    # Not another district's street, nor another street's community.
    assert "620103002" not in options and "620103002001" not in options and "620102010001" not in options
    assert 'value="620102005" selected' in picker
    assert '/dashboard?area=620102005003&amp;from=2021-03-01&amp;to=2021-03-31">张家园社区</a>' in html
    # A street leader sees nothing above their street.
    auth.logout()
    auth.login("xiyuan")
    picker = client.get("/dashboard").get_data(as_text=True).split('<select name="area">')[1].split("</select>")[0]
    assert "620103002001" in picker and '620103"' not in picker and '6201"' not in picker


def dashboard_of(app, code="620103002001"):
    with app.test_request_context():
        return build_dashboard(scope_of(find_user("leader")), code, at(1, 0), at(31, 0) + dt.timedelta(days=1))


def test_visits_due_from_care_plans_beside_visits_done(app):
    """March has 31 days: a weekly plan calls for 31/7 visits, one every two days from 16 March for 8. Both
    figures count households: five in the grid, four of them with a plan before March."""
    building = db.session.scalar(
        text("SELECT b.id FROM buildings b JOIN areas a ON a.id = b.grid_id WHERE a.code = '620103002001002' LIMIT 1")
    )
    plans = (("2021-01-01", 7),) * 4 + (("2021-03-16", 2),)
    households = []
    for k, (start, every) in enumerate(plans):
        hid = db.session.scalar(
            text("INSERT INTO households (building_id, flat_no, head_name) VALUES (:b, :f, '测试户') RETURNING id"),
            {"b": building, "f": f"90{k}"},
        )
        db.session.execute(
            text(
                "INSERT INTO care_plans (household_id, frequency_days, start_date, purpose, active) "
                "VALUES (:h, :n, :s, 'care_visit', true)"
            ),
            {"h": hid, "n": every, "s": start},
        )
        households.append(hid)
    for k, d in ((0, 2), (0, 9), (1, 16), (2, 18), (3, 20), (4, 23)):
        db.session.execute(
            text(
                "INSERT INTO visits (household_id, grid_id, visited_at, purpose, follow_up_done) "
                "SELECT id, grid_id, :t, 'care_visit', false FROM households WHERE id = :h"
            ),
            {"h": households[k], "t": at(d)},
        )
    db.session.commit()
    g2 = figures_of(dashboard_of(app), "620103002001002")
    due = 4 * 31 / 7 + 8
    assert round(g2["visits_due"]["cur"], 2) == round(due, 2)
    assert g2["visits_due"]["prev"] is None  # four households had a plan in February: fewer than 5
    assert g2["visits_done"]["cur"] == 6  # six visits to five households
    assert g2["visits_done_pct"]["cur"] == round(6 * 100 / due, 1)
    assert g2["visits_done_pct"]["prev"] is None


def test_grids_not_walked_per_period_from_the_phones_fixes(app, demo):
    from app.patrols.devices import register_device

    dev, _secret = register_device("patrol", "test phone", "traccar", identifier="test-phone-1")
    for (lon, lat), when in ((NW, at(5)), (SE, at(20, month=2))):
        db.session.execute(
            text(
                "INSERT INTO positions (device_id, user_id, fixed_at, geom, source) VALUES "
                "(:d, :u, :t, ST_SetSRID(ST_MakePoint(:x, :y), 4326), 'csv')"
            ),
            {"d": dev.id, "u": dev.user_id, "t": when, "x": lon, "y": lat},
        )
    db.session.commit()
    data = dashboard_of(app)
    walked = {
        code: figures_of(data, code)["grids_not_walked"]
        for code in ("620103002001001", "620103002001002", "620103002001004", "620103002001")
    }
    assert (walked["620103002001001"]["cur"], walked["620103002001001"]["prev"]) == (0, 1)
    assert (walked["620103002001002"]["cur"], walked["620103002001002"]["prev"]) == (1, 1)
    assert (walked["620103002001004"]["cur"], walked["620103002001004"]["prev"]) == (1, 0)
    assert (walked["620103002001"]["cur"], walked["620103002001"]["prev"]) == (3, 3)


def test_the_page_says_as_of_when_its_figures_are(client, auth, demo):
    auth.login("leader")
    html = client.get("/dashboard").get_data(as_text=True)
    assert "数据截至" in html
    assert "Figures as of" in client.get("/dashboard?lang=en").get_data(as_text=True)
