"""Where to put the next chargers: the maximal covering location problem (MCLP, Church & ReVelle 1974).

Demand points (buildings, weighted by e-bikes) are covered by a site when they lie within a service
radius of it. Given the sites that exist (kept), choose ``p`` new ones among candidates so that the
covered weight is largest. :func:`solve_mclp` builds the model with PySAL's ``spopt`` and solves it
exactly with PuLP (CBC, bundled with PuLP; HiGHS through ``highspy`` when CBC is missing).
:func:`greedy` is the textbook heuristic (add the site that covers most uncovered weight, p times),
kept for comparison (benchmarks/bench_siting.py); :func:`brute_force` enumerates every combination
and is the tests' reference on small cases.

Distances come from the caller (PostGIS geography metres); only pairs within the radius matter, so
the caller passes them sparse: ``pairs[(demand, site)] = metres``.
"""

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

FAR = 1e9  # the cost of a pair farther than any radius (the dense matrix spopt wants)


class SitingError(ValueError):
    """The problem cannot be solved as asked (no solver, too many sites for the candidates)."""


@dataclass
class Siting:
    """The chosen new sites (indices of candidates, ranked by what each adds) and the coverage."""

    chosen: list[int]
    gains: list[float]  # weight each ranked site adds after those ranked above it (and the kept ones)
    covered: float
    total: float
    covered_before: float  # by the kept sites alone
    demand_covered: list[bool] = field(default_factory=list)
    solver: str = ""

    @property
    def uncovered(self) -> float:
        return self.total - self.covered


def cover_sets(n_sites: int, pairs: dict[tuple[int, int], float], radius: float) -> list[set[int]]:
    """For each site, the demand points within ``radius`` metres."""
    sets: list[set[int]] = [set() for _ in range(n_sites)]
    for (d, s), metres in pairs.items():
        if metres <= radius:
            sets[s].add(d)
    return sets


def covered_weight(weights, sets: list[set[int]], chosen) -> float:
    """The weight of demand points covered by at least one of ``chosen``."""
    hit: set[int] = set()
    for s in chosen:
        hit |= sets[s]
    return float(sum(weights[d] for d in hit))


def rank(weights, sets: list[set[int]], kept: list[int], chosen: list[int]) -> tuple[list[int], list[float]]:
    """``chosen`` ordered by marginal gain: first the site adding most to ``kept``, and so on."""
    hit: set[int] = set()
    for s in kept:
        hit |= sets[s]
    left, order, gains = list(chosen), [], []
    while left:
        best = max(left, key=lambda s: (sum(weights[d] for d in sets[s] - hit), -s))
        gains.append(float(sum(weights[d] for d in sets[best] - hit)))
        hit |= sets[best]
        order.append(best)
        left.remove(best)
    return order, gains


def _check(n_sites: int, kept: list[int], p: int) -> None:
    if p < 0:
        raise SitingError("the number of new sites cannot be negative")
    if p > n_sites - len(kept):
        raise SitingError(f"{p} new sites asked but only {n_sites - len(kept)} candidate sites")


def _result(weights, sets, kept, chosen, solver) -> Siting:
    order, gains = rank(weights, sets, kept, chosen)
    hit: set[int] = set()
    for s in list(kept) + order:
        hit |= sets[s]
    return Siting(
        chosen=order,
        gains=gains,
        covered=covered_weight(weights, sets, list(kept) + order),
        total=float(sum(weights)),
        covered_before=covered_weight(weights, sets, kept),
        demand_covered=[d in hit for d in range(len(weights))],
        solver=solver,
    )


def lp_solver(time_limit: int = 120):
    """PuLP's bundled CBC, or HiGHS (``highspy``) when CBC is not available on this machine."""
    import pulp

    available = pulp.listSolvers(onlyAvailable=True)
    if "PULP_CBC_CMD" in available:
        return pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit), "CBC"
    if "HiGHS" in available:
        return pulp.HiGHS(msg=False, timeLimit=time_limit), "HiGHS"
    raise SitingError("no MILP solver: PuLP's CBC is missing and highspy is not installed")


def solve_mclp(
    weights, pairs: dict[tuple[int, int], float], n_sites: int, radius: float, p: int, kept: list[int] = ()
) -> Siting:
    """The exact MCLP: ``p`` new sites among ``n_sites`` (``kept`` are in place already) covering most weight."""
    kept = list(kept)
    _check(n_sites, kept, p)
    sets = cover_sets(n_sites, pairs, radius)
    if p == 0 or not len(weights):
        return _result(weights, sets, kept, [], "none")
    from spopt.locate import MCLP  # heavy import (scipy, libpysal): only when a plan is solved

    cost = np.full((len(weights), n_sites), FAR)
    for (d, s), metres in pairs.items():
        cost[d, s] = metres
    predefined = np.zeros(n_sites, dtype=bool)
    predefined[kept] = True
    model = MCLP.from_cost_matrix(
        cost,
        np.asarray(weights, dtype=float),
        service_radius=radius,
        p_facilities=p + len(kept),
        predefined_facilities_arr=predefined if kept else None,
        name="charger_siting",
    )
    solver, name = lp_solver()
    model = model.solve(solver, results=False)
    import pulp

    if pulp.LpStatus[model.problem.status] != "Optimal":
        raise SitingError(f"the solver stopped without an optimum ({pulp.LpStatus[model.problem.status]})")
    open_sites = [s for s in range(n_sites) if model.fac_vars[s].value() and model.fac_vars[s].value() > 0.5]
    chosen = [s for s in open_sites if s not in set(kept)]
    return _result(weights, sets, kept, chosen, f"spopt MCLP / {name}")


def greedy(weights, pairs: dict[tuple[int, int], float], n_sites: int, radius: float, p: int, kept=()) -> Siting:
    """The greedy heuristic: ``p`` times, add the candidate covering most weight not yet covered."""
    kept = list(kept)
    _check(n_sites, kept, p)
    sets = cover_sets(n_sites, pairs, radius)
    hit: set[int] = set()
    for s in kept:
        hit |= sets[s]
    chosen: list[int] = []
    free = [s for s in range(n_sites) if s not in set(kept)]
    for _ in range(p):
        best = max(free, key=lambda s: (sum(weights[d] for d in sets[s] - hit), -s))
        chosen.append(best)
        free.remove(best)
        hit |= sets[best]
    return _result(weights, sets, kept, chosen, "greedy")


def brute_force(weights, pairs, n_sites: int, radius: float, p: int, kept=()) -> float:
    """The best covered weight over every combination of ``p`` new sites (small cases only)."""
    kept = list(kept)
    _check(n_sites, kept, p)
    if math.comb(n_sites - len(kept), p) > 200_000:
        raise SitingError("too many combinations to enumerate")
    sets = cover_sets(n_sites, pairs, radius)
    free = [s for s in range(n_sites) if s not in set(kept)]
    return max(covered_weight(weights, sets, kept + list(c)) for c in itertools.combinations(free, p))
