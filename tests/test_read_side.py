"""The read side runs what features register: every dashboard figure, series and breakdown and every heat
source answers on the migrated schema with the expected shape; and the statement cache's keys name every
input that changes the SQL (two requests that differ in one must never share compiled SQL)."""

import datetime as dt
import itertools
import math
from urllib.parse import urlencode

import pytest

from app.auth import policy
from app.auth.policy import Scope, scope_of
from app.auth.services import find_user
from app.core.figures import BREAKDOWNS, FIGURES, SERIES, Frame, Values
from app.core.heat import HEAT_SOURCES
from app.core.sql import StatementCache
from app.core.time import TZ, today
from app.dashboard.services import CHILD_LENGTH, build_dashboard
from app.heatmaps import bins as heat_bins
from app.heatmaps import services as heat_services
from tests.test_heatmaps import scatter

CITY_BBOX = "103.60,35.95,104.05,36.15"
STREET_BBOX = "103.77,36.03,103.80,36.06"
MARCH = {"from": "2021-03-01", "to": "2021-03-31"}
AREAS = ("6201", "620103002", "620103002001", "620103002001001")


def get(client, url, **params):
    r = client.get(url + "?" + urlencode(params))
    assert r.status_code == 200, (url, params, r.status_code, r.get_data(as_text=True)[:300])
    return r.get_json()


def _frame(code: str, start: dt.datetime, end: dt.datetime) -> Frame:
    return Frame(code, CHILD_LENGTH[len(code)], start, end, start - (end - start), policy.SMALL_COUNT)


def _number_or_none(v) -> bool:
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v))


# --------------------------------------------------------------------------- every figure


@pytest.mark.parametrize("code", AREAS)
def test_every_registered_figure_runs_alone_with_values_per_unit(app, demo, code):
    """Each figure's own statement(s), without prefetch: values per unit of the right length, numbers or None."""
    assert len(FIGURES) >= 14
    end = dt.datetime.combine(today() + dt.timedelta(days=1), dt.time(), TZ)
    for start, stop in (
        (dt.datetime(2021, 3, 1, tzinfo=TZ), dt.datetime(2021, 4, 1, tzinfo=TZ)),
        (end - dt.timedelta(days=30), end),
    ):  # a past period, and one ending now
        frame = _frame(code, start, stop)
        for f in FIGURES:
            values = f.compute(frame)
            assert isinstance(values, Values), f.name
            for part in (values.cur, values.prev):
                assert all(len(unit) == frame.length and unit.startswith(code) for unit in part), f.name
                assert all(_number_or_none(v) for v in part.values()), f.name
            assert _number_or_none(values.total) and _number_or_none(values.total_prev), f.name


def test_every_registered_series_and_breakdown_runs(app, demo):
    frame = _frame("620103002", dt.datetime(2021, 3, 1, tzinfo=TZ), dt.datetime(2021, 4, 1, tzinfo=TZ))
    assert len(SERIES) and len(BREAKDOWNS)
    for s in SERIES:
        daily = s.compute(frame)
        assert all(isinstance(d, dt.date) and isinstance(n, int) for d, n in daily.items()), s.name
    for b in BREAKDOWNS:
        rows = b.compute(frame)
        assert isinstance(rows, list), b.name
        assert all({key for key, _, _ in b.columns} <= set(row) for row in rows), b.name


def test_dashboard_with_every_figure_prefetched_agrees_with_each_figure_alone(app, demo):
    scatter(12, (103.780, 36.044, 103.790, 36.052))
    start, end = dt.datetime(2021, 3, 1, tzinfo=TZ), dt.datetime(2021, 4, 1, tzinfo=TZ)
    with app.test_request_context():
        data = build_dashboard(Scope(everything=True), "620103002001", start, end)
    assert [f["name"] for f in data["figures"]] == FIGURES.names()
    alone = _frame("620103002001", start, end)
    reported = FIGURES["incidents_reported"].compute(alone)
    assert data["total"]["values"]["incidents_reported"]["cur"] == reported.total == 12
    for unit in data["units"]:
        assert set(unit["values"]) == set(FIGURES.names())


# --------------------------------------------------------------------------- every heat source


def _check_cells(data: dict, shape: str) -> None:
    assert data["shape"] == shape and data["size"] > 0 and isinstance(data["cells"], list)
    assert all(len(c) == 3 and all(isinstance(x, int) for x in c) and c[2] > 0 for c in data["cells"])
    assert data["total"] == sum(c[2] for c in data["cells"])
    assert set(data["classes"]) == {"breaks", "colors"}


def _check_areas(fc: dict) -> None:
    assert fc["type"] == "FeatureCollection" and fc["level"] in ("street", "community", "grid")
    for f in fc["features"]:
        assert f["geometry"]["type"] in ("Polygon", "MultiPolygon")
        p = f["properties"]
        assert {"code", "name", "n", "households", "rate", "suppressed", "cls"} <= set(p)
        assert p["n"] is None or p["n"] >= 0


def _check_drill(client, src, user, **params) -> None:
    r = client.get("/api/v1/heat/drill?" + urlencode({"source": src.name, **MARCH, **params}))
    if src.personal and not policy.can(find_user(user), "personal.read"):
        assert r.status_code == 403, src.name
        return
    assert r.status_code == 200, (src.name, r.get_data(as_text=True)[:300])
    labels = {label for label, _ in src.drill}
    assert all(set(row) == labels for row in r.get_json()["rows"]), src.name


@pytest.mark.parametrize("user", ["admin", "xiyuan"])
def test_every_heat_source_answers_cells_areas_and_drill(client, auth, demo, user):
    scatter(8, (103.780, 36.044, 103.790, 36.052))
    auth.login(user)
    assert len(HEAT_SOURCES) >= 9
    catalogue = {s["name"]: s for s in get(client, "/api/v1/heat/sources")["sources"]}
    assert set(catalogue) == set(HEAT_SOURCES.names())
    for src in HEAT_SOURCES:
        base = {"source": src.name, **MARCH}
        if src.geom is not None:
            for shape, zoom in (("square", 12), ("hexagon", 15)):
                data = get(client, "/api/v1/heat/cells", bbox=CITY_BBOX, zoom=zoom, shape=shape, **base)
                # Personal sources: squares of people-days, whatever was asked (app.heatmaps.people).
                _check_cells(data, "square" if src.personal else shape)
                assert (data.get("privacy") is not None) == src.personal, src.name
            _check_drill(client, src, user, bbox=STREET_BBOX, zoom=16, i=11552, j=4291)
        if src.grid is not None:
            for level in ("street", "community", "grid"):
                _check_areas(get(client, "/api/v1/heat/areas", bbox=STREET_BBOX, zoom=14, level=level, **base))
            _check_drill(client, src, user, area="620103002001")


def test_every_filter_choice_is_accepted_by_its_source(client, auth, demo):
    auth.login("admin")
    for s in get(client, "/api/v1/heat/sources")["sources"]:
        for f in s["filters"]:
            for value, _label in f["choices"][:3]:
                data = get(
                    client,
                    "/api/v1/heat/cells" if s["binned"] else "/api/v1/heat/areas",
                    source=s["name"],
                    bbox=STREET_BBOX,
                    zoom=15,
                    **{f["name"]: value},
                    **MARCH,
                )
                assert "total" in data


# --------------------------------------------------------------------------- statement cache keys


@pytest.fixture
def key_conflicts(monkeypatch):
    """Compile every cached statement afresh and compare it with the first one compiled for its key:
    a key that omits an input changing the SQL (or a value compiled into it) shows up as a conflict."""
    seen, conflicts = {}, []

    def compiled(self, key, build):
        fresh = self.compile(build)
        first = seen.setdefault((id(self), key), fresh)
        if first != fresh:
            conflicts.append((key, first, fresh))
        return fresh

    monkeypatch.setattr(StatementCache, "compiled", compiled)
    return conflicts


def _heat_requests():
    """Requests differing in one input at a time: source, shape, zoom (cell size), level, each filter, all
    filters together, and the form of the period."""
    for src in HEAT_SOURCES:
        filters = [{}] + [{f.name: f.choices()[0][0]} for f in src.filters if f.choices()]
        if len(filters) > 2:
            filters.append({k: v for flt in filters for k, v in flt.items()})
        variants = [{**flt, **MARCH} for flt in filters] + [{"from": "2021-03-01T08:00:00+08:00", "to": "2021-03-20"}]
        for variant in variants:
            base = {"source": src.name, **variant}
            if src.geom is not None:
                for shape, zoom in itertools.product(("square", "hexagon"), (12, 16)):
                    yield "/api/v1/heat/cells", {**base, "bbox": CITY_BBOX, "zoom": zoom, "shape": shape}
            if src.grid is not None:
                for level in ("street", "community", "grid"):
                    yield "/api/v1/heat/areas", {**base, "bbox": STREET_BBOX, "zoom": 15, "level": level}


def test_heat_statement_keys_cover_every_input(client, auth, demo, key_conflicts):
    """Users differ in scope (everything, a street, a community): the area is compiled in."""
    for user in ("admin", "xiyuan", "staff"):
        auth.login(user)
        for url, params in _heat_requests():
            get(client, url, **params)
        auth.logout()
    assert key_conflicts == []


def test_figure_statement_keys_cover_every_input(app, demo, key_conflicts):
    end = dt.datetime.combine(today() + dt.timedelta(days=1), dt.time(), TZ)
    periods = (
        (dt.datetime(2021, 3, 1, tzinfo=TZ), dt.datetime(2021, 4, 1, tzinfo=TZ)),
        (end - dt.timedelta(days=7), end),
    )
    with app.test_request_context():
        for user, code, (start, stop) in itertools.product(("leader", "xiyuan"), AREAS[1:], periods):
            build_dashboard(scope_of(find_user(user)), code, start, stop)
    assert key_conflicts == []


OMIT = {"filters": (slice(0, 3), slice(4, None)), "scope": (slice(0, 4), slice(8, None)), "size": (slice(0, -1),)}
ONE_INPUT_APART = {
    "filters": (("leader", {}), ("leader", {"state": "filed"})),
    "scope": (("leader", {}), ("xiyuan", {})),
    "size": (("leader", {}), ("leader", {"zoom": 16})),
}


@pytest.mark.parametrize("omitted", sorted(OMIT))
def test_the_key_check_catches_a_key_that_omits_an_input(client, auth, demo, key_conflicts, monkeypatch, omitted):
    """The checks above would fail: a key without the filters (the scope, the cell size) shares one SQL
    between two requests that differ only in it."""
    original = heat_services.shape_key

    def partial_key(q, scope, *extra):
        key = original(q, scope, *extra)
        return sum((key[part] for part in OMIT[omitted]), ())

    monkeypatch.setattr(heat_services, "shape_key", partial_key)
    monkeypatch.setattr(heat_bins, "MIN_SIZE", float("inf"))  # bin live: stored bins use no cached statement
    for user, params in ONE_INPUT_APART[omitted]:
        auth.login(user)
        get(client, "/api/v1/heat/cells", **{"bbox": CITY_BBOX, "zoom": 13, **MARCH, **params})
        auth.logout()
    assert key_conflicts
