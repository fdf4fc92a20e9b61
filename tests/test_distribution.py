"""The sharding plan stays true as the code changes (issue 21, docs/scaling.md "Sharding by street code").

``tests/sql_capture.py`` records, while the whole suite runs, every statement the application sends
that touches ``incidents`` or ``positions``, with the place in ``app/`` that sent it and whether a
street's (or narrower) user was being served. The last test of the run parses each with PostgreSQL's
parser and checks that it carries the distribution column (``tests/distribution.py`` has the rules),
and writes the list to ``var/distribution-statements.md``. The rules themselves are tested first, on
statements written out here, so that the check can fail.
"""

from pathlib import Path

import pytest

from app.patrols import ingest
from tests import sql_capture
from tests.distribution import check

# Statements that read or write every shard on purpose, by the function that sends them ("path (name)"),
# with the reason. Anything else sent for a street's user must name its street.
FAN_OUT = {
    # Work done once for every street, whichever request asks first (docs/scaling.md "What fans out").
    "app/incidents/daily.py (fill)": "the dashboard's stored days are made for every area at once",
    "app/heatmaps/bins.py (fill)": "heat bins are made for every area of a day at once",
    "app/tiles/plan.py (densest_by_centre)": "the incident layer's tile plan covers the whole layer",
    "app/incidents/services/reminders.py (remind)": "the deadline job scans every street's open incidents",
    # Keyed by a person or a patrol, not a place: their fixes and reports lie wherever they went.
    "app/incidents/workload.py (_counts)": "a team member's reports, wherever they made them",
    "app/patrols/workload.py (_run)": "a team member's fixes, wherever they walked",
    "app/patrols/tracks.py (track_figures)": "a patrol's track crosses street boundaries",
    "app/patrols/tracks.py (grids_visited)": "a patrol's track crosses street boundaries",
    "app/patrols/tracks.py (track_geojson)": "a patrol's track crosses street boundaries",
    "app/patrols/tracks.py (clean_fixes)": "a patrol's track crosses street boundaries",
    "app/patrols/live.py (live_geojson)": "the live patrols' last fixes, wherever the phones are",
    "app/patrols/lifecycle.py (stop_patrol)": "a stopped patrol claims its members' earlier fixes wherever they lie",
    # A council's incidents (the relationship Meeting.incidents): a district's council settles several streets'.
    "app/consultations/api.py (meeting_json)": "a council's incidents may lie in several streets",
    "app/consultations/outcomes.py (settle)": "a council's incidents may lie in several streets",
    "app/consultations/services.py (_ledger_row)": "a council's incidents may lie in several streets",
    "app/consultations/views.py (meeting)": "a council's incidents may lie in several streets",
    "app/consultations/views.py (update_decision)": "a council's incidents may lie in several streets",
    # An Open311 client names a request by its id alone: which street holds it is not known before reading.
    "app/open311/updates.py (_check_owner)": "an Open311 client's request id names no street",
    # `flask seed scale` makes and clears the synthetic district for benchmarks: whole id ranges on purpose.
    "app/seed/scale/incidents.py (_copy_in)": "the synthetic district's own id ranges (benchmark data)",
}


def _functions(site: str) -> set[str]:
    """``app/x.py:12 (f) < app/y.py:30 (g)`` → ``{"app/x.py (f)", "app/y.py (g)"}``: a fan-out may be
    decided by a caller of the helper that sends the statement."""
    found = set()
    for frame in site.split(" < "):
        path, _, rest = frame.partition(":")
        found.add(f"{path} {rest.partition(' ')[2]}")
    return found


def _rules(sql, routed=False):
    return [str(f) for f in check(sql, routed)]


@pytest.mark.parametrize(
    ("sql", "routed", "found"),
    [
        ("SELECT id FROM incidents WHERE state = 'reported'", False, []),
        ("SELECT id FROM incidents WHERE id = %(id)s", True, ["incidents: no condition on street_code"]),
        ("SELECT id FROM incidents WHERE id = %(id)s AND incidents.street_code = %(s)s", True, []),
        ("SELECT i.id FROM incidents i WHERE i.street_code = ANY(%(s)s) AND i.note LIKE 'a%%'", True, []),
        (
            "SELECT i.id FROM incidents i WHERE i.id = $1 AND (i.street_code = $2 OR i.grid_id IS NULL)",
            True,
            ["incidents: no condition on street_code"],
        ),
        (
            "SELECT 1 FROM incidents i JOIN positions p ON p.user_id = i.reported_by",
            False,
            [
                "incidents: joined to another distributed table not on street_code",
                "positions: joined to another distributed table not on street_code",
            ],
        ),
        (
            "SELECT 1 FROM incidents i JOIN positions p ON p.user_id = i.reported_by AND p.street_code = i.street_code",
            False,
            [],
        ),
        ("UPDATE incidents SET state = 'filed' WHERE id = 1", False, ["incidents: no condition on street_code"]),
        ("UPDATE incidents SET state = 'filed' WHERE id = 1 AND street_code IN ('620102005')", False, []),
        ("DELETE FROM positions WHERE device_id = 3", False, ["positions: no condition on street_code"]),
        ("INSERT INTO positions (device_id, geom) VALUES (1, 'x')", False, ["positions: INSERT without street_code"]),
        ("INSERT INTO incidents (description, geom, street_code) VALUES ('a', 'x', '620102005')", False, []),
        (
            "PREPARE p (int) AS WITH a AS (INSERT INTO positions (device_id) SELECT $1 RETURNING 1) SELECT 1",
            False,
            ["positions: INSERT without street_code"],
        ),
        ("COPY positions (device_id, geom) FROM STDIN", False, ["positions: COPY without street_code"]),
        (
            "SELECT a.id FROM areas a WHERE EXISTS (SELECT 1 FROM incidents i WHERE i.grid_id = a.id)",
            True,
            ["incidents: no condition on street_code"],
        ),
        ("SELECT id FROM incidents_daily WHERE id = 1", True, []),
        ("SELECT id FROM incidents i WHERE i.street_code IN (SELECT code FROM areas WHERE level = 'street')", True, []),
        (
            "SELECT id FROM incidents i WHERE i.grid_id IN (SELECT id FROM areas)",
            True,
            ["incidents: no condition on street_code"],
        ),
    ],
)
def test_the_rules(sql, routed, found):
    assert _rules(sql, routed) == found


def test_every_fan_out_names_a_function_that_exists():
    """A listed function that was renamed or removed would silently stop being checked: fail instead."""
    for key in FAN_OUT:
        path, name = key.split(" ")
        source = Path(sql_capture.ROOT, path).read_text()
        assert f"def {name.strip('()')}(" in source, key


def test_the_ingest_statements_sent_on_raw_cursors_carry_the_street_code():
    """COPY and the staging table's merge go through psycopg2 cursors, which the capture does not see."""
    for sql in (ingest._STORE_FIX, ingest._COPY_POSITIONS, ingest._MERGE_POSITIONS_LOAD):
        assert _rules(sql) == [], sql


def _listing(captured, findings) -> str:
    lines = ["# Statements on the tables that would shard (written by tests/test_distribution.py)", ""]
    for c in sorted(captured, key=lambda c: min(c.sites)):
        mark = f"routed for a street's user at {', '.join(sorted(c.routed_sites))}" if c.routed else "fan-out allowed"
        problems = findings.get(c.sql, [])
        lines.append(
            f"## {', '.join(sorted(c.sites))} — {mark}, sent {c.count}×{' — ' if problems else ''}"
            + "; ".join(problems)
        )
        lines += ["", "```sql", c.sql.strip(), "```", ""]
    return "\n".join(lines)


@pytest.mark.after_all
def test_every_statement_the_application_sent_carries_the_street_code(request):
    if request.session.testscollected < 500:
        pytest.skip("checks what the whole suite made the application send: run it with make test")
    captured = list(sql_capture.CAPTURE.statements.values())
    assert len(captured) > 50, "the capture saw next to nothing: is tests/sql_capture.py installed?"
    findings, failures = {}, []
    for c in captured:
        # The rules for every statement apply to every site; a street user's rule to the sites that served one.
        problems = [str(f) for f in check(c.sql)]
        sites = c.sites
        if not problems and c.routed:
            problems, sites = [str(f) for f in check(c.sql, routed=True)], c.routed_sites
        if not problems:
            continue
        findings[c.sql] = problems
        sites = {s for s in sites if not _functions(s) & FAN_OUT.keys()}
        if sites:
            failures.append(f"{', '.join(sorted(sites))}: {'; '.join(problems)}\n    {' '.join(c.sql.split())[:400]}")
    out = Path(sql_capture.ROOT, "var", "distribution-statements.md")
    out.parent.mkdir(exist_ok=True)
    out.write_text(_listing(captured, findings))
    assert not failures, f"{len(failures)} statements without the distribution column (see {out}):\n" + "\n".join(
        failures
    )
