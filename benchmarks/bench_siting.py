"""Charger siting for a street: the exact MCLP (spopt + CBC) beside the greedy heuristic, 500 candidate sites.

A synthetic street of 2 × 2 km at Lanzhou's latitude: 2,000 buildings with 0–60 e-bikes each, clustered
around 12 old compounds (as e-bikes are), and 500 candidate sites; 8 chargers in place. Distances are
the app's own PostGIS geography pairs within the radius (:func:`app.planning.candidates.pairs_within`),
timed apart; then 15 new sites within 150 m are chosen by each method, and the covered e-bikes of both
are reported.
"""

import random
import time

from benchmarks.common import Result

N_BUILDINGS = 2000
N_CANDIDATES = 500
N_TODAY = 8
NEW_SITES = 15
RADIUS_M = 150
LON0, LAT0 = 103.825, 36.040
DEG_LAT, DEG_LON = 1 / 111320, 1 / (111320 * 0.8088)  # metres → degrees at 36°N


class _Point:
    def __init__(self, lon, lat):
        self.lon, self.lat = lon, lat


def _street(seed: int = 11):
    rnd = random.Random(seed)
    centres = [(rnd.uniform(200, 1800), rnd.uniform(200, 1800)) for _ in range(12)]

    def near(spread):
        cx, cy = rnd.choice(centres)
        x = min(2000, max(0, rnd.gauss(cx, spread)))
        y = min(2000, max(0, rnd.gauss(cy, spread)))
        return _Point(LON0 + x * DEG_LON, LAT0 + y * DEG_LAT)

    buildings = [near(260) for _ in range(N_BUILDINGS)]
    weights = [rnd.randint(0, 60) for _ in buildings]
    sites = [near(300) for _ in range(N_TODAY + N_CANDIDATES)]
    return buildings, weights, sites


def run(ctx):
    from gis.siting import greedy, solve_mclp

    with ctx.app.app_context():
        from app.planning.candidates import pairs_within

        buildings, weights, sites = _street()
        t0 = time.perf_counter()
        pairs = pairs_within(buildings, sites, RADIUS_M)
        distances_ms = (time.perf_counter() - t0) * 1000
    kept = list(range(N_TODAY))
    solve_mclp([1, 1], {(0, 0): 1.0}, 2, RADIUS_M, 1)  # import spopt/scipy once, outside the timing
    t0 = time.perf_counter()
    exact = solve_mclp(weights, pairs, len(sites), RADIUS_M, NEW_SITES, kept)
    exact_ms = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    quick = greedy(weights, pairs, len(sites), RADIUS_M, NEW_SITES, kept)
    greedy_ms = (time.perf_counter() - t0) * 1000
    total = sum(weights)

    def share(x):
        return f"{x:,.0f} of {total:,} e-bikes ({100 * x / total:.1f} %)"

    return [
        Result(
            f"MCLP, {N_CANDIDATES} candidates, {N_BUILDINGS} buildings, {NEW_SITES} new sites",
            exact_ms,
            "ms",
            "greedy heuristic",
            greedy_ms,
            f"{exact.solver}; covered {share(exact.covered)} vs greedy {share(quick.covered)}; "
            f"today's {N_TODAY} chargers {share(exact.covered_before)}",
        ),
        Result(
            "covered e-bikes, MCLP",
            exact.covered,
            "e-bikes",
            "greedy heuristic",
            quick.covered,
            "the exact optimum covers at least what greedy does",
            higher_is_better=True,
        ),
        Result(
            f"building–site pairs within {RADIUS_M} m (PostGIS geography)",
            distances_ms,
            "ms",
            note=f"{len(pairs):,} pairs of {N_BUILDINGS * len(sites):,}",
        ),
    ]
