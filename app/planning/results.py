"""A solved plan as the planner reads it: ranked sites, covered and uncovered e-bikes before and after,
the uncovered buildings, each site's load against its ports; and the same as GeoJSON or CSV."""

import json

from app.planning.candidates import DISTANCE_RULE
from gis.siting import Siting, cover_sets

SITE_COLUMNS = (
    "rank",
    "name",
    "kind",
    "lon",
    "lat",
    "ports",
    "adds_weight",
    "adds_ebikes",
    "ebikes_in_reach",
    "load_ebikes",
    "capacity_ebikes",
    "over_capacity",
)


def _coverage(demand, covered: list[bool]) -> dict:
    bikes = sum(d.ebikes for d in demand)
    hit = sum(d.ebikes for d, c in zip(demand, covered) if c)
    weight = sum(d.weight for d in demand)
    hit_w = sum(d.weight for d, c in zip(demand, covered) if c)
    return {
        "covered_ebikes": hit,
        "uncovered_ebikes": bikes - hit,
        "covered_weight": hit_w,
        "uncovered_weight": weight - hit_w,
        "uncovered_buildings": sum(1 for c in covered if not c),
    }


def _loads(demand, pairs, open_sites: list[int]) -> dict[int, int]:
    """E-bikes of each covered building counted at its nearest open site."""
    nearest: dict[int, tuple[float, int]] = {}
    members = set(open_sites)
    for (d, s), metres in pairs.items():
        if s in members and (d not in nearest or metres < nearest[d][0]):
            nearest[d] = (metres, s)
    load = dict.fromkeys(open_sites, 0)
    for d, (_, s) in nearest.items():
        load[s] += demand[d].ebikes
    return load


def build_result(demand, sites, today, pairs, siting: Siting, params: dict) -> dict:
    """The stored result of a plan (JSON)."""
    radius = params["radius_m"]
    sets = cover_sets(len(sites), {k: v for k, v in pairs.items() if v <= radius}, radius)
    kept = list(range(len(today)))
    before_hit = set().union(*(sets[s] for s in kept)) if kept else set()
    load = _loads(demand, {k: v for k, v in pairs.items() if v <= radius}, kept + siting.chosen)
    ranked, hit = [], set(before_hit)
    for rank, (s, gain) in enumerate(zip(siting.chosen, siting.gains), start=1):
        c = sites[s]
        adds = sum(demand[d].ebikes for d in sets[s] - hit)
        hit |= sets[s]
        capacity = c.ports * params["bikes_per_port"]
        ranked.append(
            {
                "rank": rank,
                "name": c.name,
                "kind": c.kind,
                "lon": round(c.lon, 7),
                "lat": round(c.lat, 7),
                "ports": c.ports,
                "adds_weight": gain,
                "adds_ebikes": adds,
                "ebikes_in_reach": sum(demand[d].ebikes for d in sets[s]),
                "load_ebikes": load.get(s, 0),
                "capacity_ebikes": capacity,
                "over_capacity": load.get(s, 0) > capacity,
            }
        )
    after = siting.demand_covered
    return {
        "distance": DISTANCE_RULE,
        "solver": siting.solver,
        "radius_m": radius,
        "candidates": {k: sum(1 for c in sites if c.kind == k) for k in ("entrance", "open_space", "drawn")},
        "today": {"chargers": len(today), **_coverage(demand, [d in before_hit for d in range(len(demand))])},
        "after": {"chargers": len(today) + len(ranked), **_coverage(demand, after)},
        "sites": ranked,
        "uncovered_buildings": [
            {
                "id": d.building_id,
                "name": d.name,
                "lon": round(d.lon, 7),
                "lat": round(d.lat, 7),
                "ebikes": d.ebikes,
                "estimated": d.estimated,
                "hazards": d.hazards,
            }
            for d, c in zip(demand, after)
            if not c
        ],
        "today_chargers": [
            {"id": c.ref, "name": c.name, "lon": c.lon, "lat": c.lat, "ports": c.ports, "load_ebikes": load.get(i, 0)}
            for i, c in enumerate(today)
        ],
    }


def _point(lon, lat, props) -> dict:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": props}


def plan_geojson(plan: dict) -> str:
    """The plan's new sites and uncovered buildings as a GeoJSON FeatureCollection (RFC 7946)."""
    result = plan["result"] or {}
    feats = [
        _point(s["lon"], s["lat"], {"layer": "site", "plan": plan["name"], **{k: s[k] for k in SITE_COLUMNS}})
        for s in result.get("sites", [])
    ]
    feats += [
        _point(
            b["lon"],
            b["lat"],
            {
                "layer": "uncovered_building",
                "building_id": b["id"],
                "name": b["name"],
                "ebikes": b["ebikes"],
                "estimated": b["estimated"],
            },
        )
        for b in result.get("uncovered_buildings", [])
    ]
    return json.dumps(
        {"type": "FeatureCollection", "name": plan["name"], "distance": result.get("distance"), "features": feats},
        ensure_ascii=False,
    )


def plan_rows(plan: dict) -> list[list]:
    """The plan's ranked new sites as rows of :data:`SITE_COLUMNS` (for ``app.web.tables.csv_response``)."""
    return [[s[k] for k in SITE_COLUMNS] for s in (plan["result"] or {}).get("sites", [])]
