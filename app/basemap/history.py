"""A feature's history and undo: the audit log is the version store.

Every write of a layer feature is one audit entry (:mod:`app.audit`) with the user, the time and the
feature before and after, written in the same transaction as the change — whoever made it: the map
page, the API, an import, a split or merge of grids. That is all a version history needs, so there is
no second copy (a ``feature_versions`` table would have to be kept in step with every writer); the
index ``ix_audit_log_row`` (migration 0014) reads one feature's entries.

**Undo** of an entry takes back that change and nothing else: the attributes and geometry it changed
are written back as they were before it (409 when a later version changed one of them again: undo
that one first), an insert is deleted, a delete re-inserted under its old id. The undo is itself a write — checked like any
other (the layer's rules, the user's area, ``If-Match``), audited as ``undo`` — so it shows in the
history and can be undone in turn: nothing is ever lost.
"""

from sqlalchemy import select

from app.areas.models import Area
from app.audit.services import entries_for
from app.auth.models import User
from app.auth.policy import Scope, in_scope_code
from app.basemap import services
from app.basemap.layers import Layer
from app.core.errors import ApiError
from app.core.extensions import db

UNDOABLE = ("insert", "update", "delete", "undo")


def as_feature(layer: Layer, snap: dict | None) -> dict | None:
    """An audit snapshot as a GeoJSON Feature: layer writes store features, area services their columns."""
    if snap is None:
        return None
    if snap.get("type") == "Feature":
        return snap
    props = {f.name: snap.get(f.col) for f in layer.fields if f.col in snap}
    if layer.table == "areas" and snap.get("parent_id"):
        props["parent_code"] = db.session.scalar(select(Area.code).where(Area.id == snap["parent_id"]))
    return {"type": "Feature", "id": snap.get("id"), "geometry": snap.get("geom"), "properties": props}


def changed(layer: Layer, before: dict | None, after: dict | None) -> list[str]:
    """The writable fields (and ``geometry``) that differ between two versions."""
    if before is None or after is None:
        return []
    b, a = before.get("properties") or {}, after.get("properties") or {}
    names = [f.name for f in layer.fields if f.writable and b.get(f.name) != a.get(f.name)]
    if before.get("geometry") != after.get("geometry"):
        names.append("geometry")
    return names


def _visible(layer: Layer, scope: Scope, fid: int, entries) -> bool:
    """A feature that exists: the user sees it now. One that was deleted: its last version lay in
    the user's area (its grid, or for areas its code)."""
    if services.get_feature(layer, scope, fid) is not None:
        return True
    if not entries or services.valid_id(fid) and services.get_feature(layer, Scope(everything=True), fid):
        return False
    last = as_feature(layer, entries[0].before or entries[0].after) or {}
    props = last.get("properties") or {}
    if scope.everything:
        return True
    if layer.scope == "area":
        return in_scope_code(scope, props.get("code"))
    grid = props.get("grid_id")
    code = db.session.scalar(select(Area.code).where(Area.id == grid)) if grid else None
    return in_scope_code(scope, code)


def feature_history(layer: Layer, scope: Scope, fid: int) -> list[dict]:
    """The feature's versions, newest first: who, when, what, the feature before and after; 404 when
    the user may not see it (or it never existed)."""
    entries = [e for e in entries_for(layer.table, fid) if e.action in (*UNDOABLE, "split", "merge", "import")]
    if not services.valid_id(fid) or not _visible(layer, scope, fid, entries):
        raise ApiError(404, f"no {layer.name} feature {fid} in your area")
    names = dict(
        db.session.execute(
            select(User.id, User.display_name).where(User.id.in_({e.user_id for e in entries if e.user_id}))
        ).all()
    )
    out = []
    for e in entries:
        before, after = as_feature(layer, e.before), as_feature(layer, e.after)
        out.append(
            {
                "id": e.id,
                "at": e.at.isoformat(),
                "action": e.action,
                "user": names.get(e.user_id),
                "user_id": e.user_id,
                "changed": changed(layer, before, after),
                "before": before,
                "after": after,
                "undoable": e.action in UNDOABLE and (before is not None or after is not None),
            }
        )
    return out


def _values(layer: Layer, feature: dict):
    """(column values, geometry) of an old version, checked like a write of it now."""
    props = {
        f.name: v
        for f, v in ((layer.field(k), v) for k, v in (feature.get("properties") or {}).items())
        if f is not None and f.writable
    }
    body = {"type": "Feature", "properties": props}
    if layer.geom_type:
        body["geometry"] = feature.get("geometry")
    return services.parse_feature(layer, body, partial=False)


def _reverted(layer: Layer, entry, now: dict) -> dict:
    """The body that undoes one change of ``entry`` and nothing else: the attributes (and geometry) it
    changed, as they were before it. 409 when a later version changed one of them again: undo that
    one first (nothing is overwritten unseen)."""
    before, after = as_feature(layer, entry.before), as_feature(layer, entry.after)
    names = changed(layer, before, after)
    now_props, after_props = now.get("properties") or {}, after.get("properties") or {}
    later = [
        n
        for n in names
        if (now.get("geometry") != after.get("geometry") if n == "geometry" else now_props.get(n) != after_props.get(n))
    ]
    if later:
        raise ApiError(
            409,
            f"{', '.join(later)} changed again after this version: undo the later version first",
            {"entry": "changed again later"},
            code="changed_later",
        )
    body = {"type": "Feature", "properties": {n: before["properties"].get(n) for n in names if n != "geometry"}}
    if "geometry" in names:
        body["geometry"] = before.get("geometry")
    return body


def undo(layer: Layer, scope: Scope, fid: int, entry_id: int) -> dict | None:
    """Undo entry ``entry_id`` of feature ``fid``: a change is reverted (what it changed, as it was
    before), an insert deleted, a delete re-inserted under its id. The feature as it is now (None
    when the undo deleted it)."""
    entry = next((e for e in entries_for(layer.table, fid) if e.id == entry_id), None)
    if entry is None or not _visible(layer, scope, fid, [entry]):
        raise ApiError(404, f"no change {entry_id} of {layer.name} feature {fid} in your area")
    if entry.action not in UNDOABLE:
        raise ApiError(422, f"a {entry.action} is not undone here", {"entry": "not undoable"})
    target = as_feature(layer, entry.before)
    now = services.get_feature(layer, Scope(everything=True), fid) if services.valid_id(fid) else None
    with services.rollback_on_error():
        if target is None:  # the entry made the feature: undoing it deletes it
            if now is None:
                raise ApiError(409, f"{layer.name} feature {fid} is already gone", {"entry": "nothing to undo"})
            services.apply_delete(layer, fid, services.writable_before(layer, scope, fid), action="undo")
            result = None
        elif now is None:  # the feature was deleted since: it comes back under its id
            values, geom = _values(layer, target)
            result = services.insert_feature(layer, scope, {**values, "id": fid}, geom, action="undo")
        elif entry.after is None:
            raise ApiError(409, f"{layer.name} feature {fid} exists again", {"entry": "nothing to undo"})
        else:
            before = services.writable_before(layer, scope, fid)
            values, geom = services.parse_feature(layer, _reverted(layer, entry, now), partial=True)
            result = services.apply_update(layer, scope, fid, values, geom, before, action="undo")
    db.session.commit()
    return result
