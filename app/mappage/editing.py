"""What the map page's editor needs (``static/js/wuwei-edit.js``): per layer its fields, URLs and shape.

Offered only to users holding ``layers.edit``; the browser never decides what may be stored — every
save is checked by the layer API (``/api/v1/<layer>/check``, then the write) — but it hides what the
user may not do: area rows at or above their own area, layers they may not edit.
"""

from flask import url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.auth import policy
from app.basemap.layers import Layer
from app.mappage.catalog import map_layers
from app.web.labels import field_label, value_label

# Leaflet-Geoman's drawing mode for each stored geometry type.
DRAW = {
    "Point": "CircleMarker",
    "MultiPoint": "CircleMarker",
    "LineString": "Line",
    "MultiLineString": "Line",
    "Polygon": "Polygon",
    "MultiPolygon": "Polygon",
}
# What a new feature starts with (the planner changes it in the form).
DEFAULTS = {
    "chargers": {"status": "planned", "ports": 10},
    "bike-zones": {"status": "planned", "kind": "shared_bike", "capacity": 20},
    "grids": {"level": "grid"},
}


def _field(f) -> dict:
    out = {
        "name": f.name,
        "kind": f.kind,
        "required": f.required,
        "label": field_label(f.name[:-3] if f.kind == "ref" and f.name.endswith("_id") else f.name),
    }
    if f.choices:
        out["choices"] = [[c, value_label(f.name, c)] for c in f.choices]
    for key in ("min", "max", "max_len"):
        if getattr(f, key) is not None:
            out[key] = getattr(f, key)
    if f.kind == "ref":
        ref = next((l for l in map_layers() if l.table == f.ref and not l.base_where), None)
        if ref is not None:
            out["ref_url"] = url_for("api.collection", layer_name=ref.name, sort="name", limit=200)
    return out


def layer_edit_config(layer: Layer) -> dict:
    base = url_for("api.collection", layer_name=layer.name)
    out = {
        "name": layer.name,
        "title": str(layer.title),
        "draw": DRAW.get(layer.geom_type, "Polygon"),
        "geom_type": layer.geom_type,
        "fields": [_field(f) for f in layer.fields if f.writable],
        "defaults": DEFAULTS.get(layer.name, {}),
        "collection_url": base,
        "check_url": base + "/check",
        "area_rows": layer.scope == "area",
    }
    if policy.can(current_user, "layers.import"):
        out["import_url"] = url_for("transfer_pages.import_page", layer_name=layer.name)
    if layer.name == "grids":
        out["split"] = True
    return out


def edit_config(user) -> dict | None:
    """The editor's config for ``user``, or None when they may not edit."""
    if not policy.can(user, "layers.edit"):
        return None
    scope = policy.scope_of(user)
    return {
        "area_code": "" if scope.everything else (scope.area_code or "-"),
        "layers": [layer_edit_config(layer) for layer in map_layers() if policy.can(user, layer.edit_permission)],
        "merge_url": url_for("api.merge_grids"),
        "texts": edit_texts(),
    }


def edit_texts() -> dict:
    """The editor's UI strings in the current language."""
    return {**_form_texts(), **_grid_texts()}


def _grid_texts() -> dict:
    """Strings of the history, the split and merge of grids, and their previews."""
    return {
        "geometry": _("图形"),
        "changed": _("改动："),
        "split": _("拆分网格"),
        "split_hint": _("画一条切分线：从网格一侧边界画到另一侧，最后一点双击（或再点一次）结束。"),
        "split_confirm": _("确认拆分"),
        "merge": _("合并网格"),
        "merge_hint": _("点击要并入“%(name)s”的相邻网格。", name="{name}"),
        "merge_confirm": _("确认合并"),
        "redraw": _("重画"),
        "new_name": _("新网格名称"),
        "preview_split": _(
            "“%(kept)s”保留编码 %(code)s；切下的部分成为新网格 %(new_code)s。",
            kept="{kept}",
            code="{code}",
            new_code="{new_code}",
        ),
        "preview_merge": _(
            "“%(gone)s”（%(gone_code)s）并入“%(keep)s”（%(code)s），其中的楼栋、事件、住户等一并转入。",
            gone="{gone}",
            gone_code="{gone_code}",
            keep="{keep}",
            code="{code}",
        ),
        "rows_moved": _("网格内各类记录（按网格编码）："),
        "micro_moved": _("微网格改编码："),
        "regrid_errors": {
            "straddles": _("切分线穿过了微网格 %(name)s：请沿它的边界画线，或先重画这个微网格。", name="{micro_grid}"),
            "cut": _("切分线要从网格一侧的边界画到另一侧，正好把网格分成两块。"),
            "not_siblings": _("只能合并同一社区的网格（或同一网格的微网格）。"),
            "not_neighbours": _("这两个网格不相邻：只能合并有共同边界的网格。"),
        },
        "tables": {
            "buildings": _("楼栋"),
            "compounds": _("小区/院落"),
            "chargers": _("充电桩"),
            "bike_zones": _("非机动车停放区"),
            "households": _("住户"),
            "incidents": _("事件"),
            "visits": _("走访"),
            "wishes": _("微心愿"),
            "bad_parking_spots": _("乱停放点"),
        },
    }


def _form_texts() -> dict:
    """Strings of the toolbar, the attribute form and its messages."""
    return {
        "edit": _("编辑"),
        "editing": _("编辑图层"),
        "draw_new": _("画新要素"),
        "import": _("导入文件"),
        "save": _("保存"),
        "saving": _("正在检查并保存…"),
        "cancel": _("取消"),
        "close": _("关闭"),
        "delete": _("删除"),
        "history": _("历史版本"),
        "move": _("整体拖动"),
        "reshape": _("修改形状"),
        "new_feature": _("新建：%(layer)s", layer="{layer}"),
        "edit_feature": _("编辑：%(layer)s #%(id)s", layer="{layer}", id="{id}"),
        "draw_hint": _("在地图上画出图形（会自动吸附到相邻要素），画完后填写属性并保存。"),
        "edit_hint": _("拖动顶点修改形状，或切换为整体拖动；吸附到相邻要素。"),
        "saved": _("已保存"),
        "deleted": _("已删除"),
        "undo": _("撤销"),
        "undone": _("已撤销"),
        "confirm_delete": _("确定删除这个要素吗？删除后可以在提示中撤销。"),
        "repair": _("一键修复图形"),
        "repaired": _("已修复图形，请检查后保存"),
        "problem_place": _("问题所在位置"),
        "conflict": _(
            "保存被拒绝：在您编辑期间，%(user)s 修改了这个要素。您的修改仍在表单中，没有丢失。", user="{user}"
        ),
        "conflict_someone": _("另一位用户"),
        "show_theirs": _("查看对方的版本"),
        "keep_mine": _("以我的修改为准再次保存"),
        "theirs": _("对方："),
        "failed": _("保存失败：%(message)s", message="{message}"),
        "network": _("网络错误，请重试"),
        "no_history": _("还没有历史记录"),
        "actions": {
            "insert": _("新建"),
            "update": _("修改"),
            "delete": _("删除"),
            "undo": _("撤销"),
            "import": _("导入"),
            "split": _("拆分"),
            "merge": _("合并"),
        },
        "required": _("必填"),
        "choose": _("（请选择）"),
        "none": _("（无）"),
        "yes": _("是"),
    }
