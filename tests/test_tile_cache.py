"""The tile cache (app/tiles/cache.py): a tile is built once per data version, any write to its table
makes the next request build it again, and a client holding the tile gets 304 without it being built."""

import mapbox_vector_tile
import pytest
from sqlalchemy import event, text

from app.core.extensions import db
from app.tiles import cache
from app.tiles.cache import Entry, TileCache
from tests.test_tiles import ZJY_CHARGER, get_tile, tile_of

NEW_CHARGER = (103.8345, 36.0474)  # beside 金昌南路大院子充电桩01, in the same z14 tile


@pytest.fixture(autouse=True)
def empty_cache(app):
    """Each test starts with an empty cache (the app, and so its cache, lives for the whole session: a tile
    another test asked for would otherwise already be there)."""
    app.extensions.pop(cache.EXTENSION, None)
    yield
    app.extensions.pop(cache.EXTENSION, None)


def _tile_statements(fn):
    """How many statements building a tile (ST_AsMVT) ``fn`` sent, and its answer."""
    seen = []

    def before(conn, cursor, statement, params, context, executemany):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        resp = fn()
    finally:
        event.remove(db.engine, "before_cursor_execute", before)
    return sum("ST_AsMVT" in s for s in seen), resp


def _names(resp) -> set[str]:
    assert resp.status_code == 200, resp.data
    layers = mapbox_vector_tile.decode(resp.data)
    return {f["properties"]["name"] for f in layers.get("chargers", {}).get("features", [])}


def _add_charger(name: str) -> None:
    db.session.execute(
        text(
            "INSERT INTO chargers (name, status, ports, geom) "
            "VALUES (:name, 'installed', 2, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))"
        ),
        {"name": name, "lon": NEW_CHARGER[0], "lat": NEW_CHARGER[1]},
    )
    db.session.flush()


def test_a_tile_is_built_once_then_served_from_the_cache(app, client, auth, demo):
    auth.login("planner")
    z, x, y = tile_of(*ZJY_CHARGER, 14)
    built, first = _tile_statements(lambda: get_tile(client, "chargers", z, x, y))
    assert built == 1 and "金昌南路大院子充电桩01" in _names(first)
    built, again = _tile_statements(lambda: get_tile(client, "chargers", z, x, y))
    assert built == 0, "the second request rebuilt the tile"
    assert again.data == first.data and again.headers["ETag"] == first.headers["ETag"]


def test_a_write_to_the_layer_rebuilds_its_tiles(app, client, auth, demo):
    auth.login("planner")
    z, x, y = tile_of(*ZJY_CHARGER, 14)
    before = get_tile(client, "chargers", z, x, y)
    assert "缓存测试充电桩" not in _names(before)
    _add_charger("缓存测试充电桩")
    built, after = _tile_statements(lambda: get_tile(client, "chargers", z, x, y))
    assert built == 1 and "缓存测试充电桩" in _names(after)
    assert after.headers["ETag"] != before.headers["ETag"]
    # The client's copy is stale: it gets the new tile, not 304.
    stale = get_tile(client, "chargers", z, x, y, {"If-None-Match": before.headers["ETag"]})
    assert stale.status_code == 200 and "缓存测试充电桩" in _names(stale)


def test_a_write_to_another_layer_keeps_the_tile(app, client, auth, demo):
    auth.login("planner")
    z, x, y = tile_of(*ZJY_CHARGER, 14)
    first = get_tile(client, "chargers", z, x, y)
    db.session.execute(text("UPDATE buildings SET name = name WHERE id = (SELECT min(id) FROM buildings)"))
    built, again = _tile_statements(lambda: get_tile(client, "chargers", z, x, y))
    assert built == 0 and again.headers["ETag"] == first.headers["ETag"]


def test_if_none_match_is_answered_without_building_the_tile(app, client, auth, demo):
    auth.login("planner")
    z, x, y = tile_of(*ZJY_CHARGER, 14)
    for coding in ("br", "identity"):
        first = get_tile(client, "chargers", z, x, y, {"Accept-Encoding": coding})
        with app.app_context():
            cache.cache()._entries.clear()  # another worker, or a restarted one: nothing cached
        held = {"Accept-Encoding": coding, "If-None-Match": first.headers["ETag"]}
        built, again = _tile_statements(lambda h=held: get_tile(client, "chargers", z, x, y, h))
        assert again.status_code == 304 and built == 0 and again.headers["ETag"] == first.headers["ETag"]


def test_a_rolled_back_write_never_lends_its_version_to_another(app, demo):
    with app.app_context():
        start = cache.versions(("chargers",))
        nested = db.session.begin_nested()
        _add_charger("回滚的充电桩")
        rolled_back = cache.versions(("chargers",))
        nested.rollback()
        assert cache.versions(("chargers",)) == start
        _add_charger("另一个充电桩")
        assert cache.versions(("chargers",)) not in (start, rolled_back)


def test_the_cache_keeps_to_its_size_and_drops_the_least_recently_used():
    store = TileCache(max_bytes=3 * (1000 + 200))
    for k in "abc":
        store.put((k,), Entry(b"x" * 1000))
    assert store.get(("a",)) is not None  # a is now the most recently used
    store.put(("d",), Entry(b"x" * 1000))
    assert store.get(("b",)) is None and store.get(("a",)) is not None and len(store) == 3
    assert store.bytes <= store.max_bytes
    store.put(("huge",), Entry(b"x" * 10_000))  # larger than the whole cache: not kept
    assert store.get(("huge",)) is None
