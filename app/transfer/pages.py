"""The import page of a layer: a file, what the file does not say, a dry run with a map preview, then the
import (one transaction) with progress for big files. It speaks to ``POST /api/v1/<layer>/import``
(``dry_run=true`` first) and ``GET /api/v1/imports/<id>``; nothing is checked here that the API does not."""

from flask import Blueprint, abort, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.auth import policy
from app.basemap.layers import LAYERS
from gis.coords import SYSTEMS

bp = Blueprint("transfer_pages", __name__)


def page_texts() -> dict:
    """The page script's strings in the current language."""
    return {
        "checking": _("正在检查文件…"),
        "importing": _("正在导入…"),
        "rows": _("共 %(n)s 行", n="{n}"),
        "valid": _("%(n)s 行可以导入", n="{n}"),
        "refused": _("%(n)s 行有问题", n="{n}"),
        "import_n": _("导入 %(n)s 条", n="{n}"),
        "fix_first": _("有问题的行需要先在文件中改正（或调整字段对应、坐标系），导入是全部或全不。"),
        "ignore": _("（不导入）"),
        "row": _("行"),
        "reason": _("原因"),
        "done": _("已导入 %(n)s 条。", n="{n}"),
        "to_map": _("在地图上查看"),
        "to_list": _("查看列表"),
        "failed": _("未导入：%(message)s", message="{message}"),
        "queued": _("文件较大，已交给后台导入：%(done)s / %(total)s 行", done="{done}", total="{total}"),
        "phases": {"reading": _("读取文件"), "checking": _("检查各行"), "storing": _("写入数据库")},
        "encoding_found": _("文字编码：%(encoding)s", encoding="{encoding}"),
        "crs_found": _("坐标系：%(crs)s", crs="{crs}"),
        "ignored": _("未对应的列：%(names)s", names="{names}"),
        "network": _("网络错误，请重试"),
    }


@bp.get("/layers/<layer_name>/import")
@login_required
def import_page(layer_name: str):
    """Upload a file into ``layer_name``: check first, then import."""
    layer = LAYERS.get(layer_name)
    if layer is None:
        abort(404)
    policy.require("layers.import")
    systems = [
        ("", _("按文件声明（无声明时为 WGS-84）")),
        ("wgs84", _("WGS-84 / CGCS2000（GPS、天地图）")),
        ("gcj02", _("GCJ-02（高德、腾讯地图）")),
        ("bd09", _("BD-09（百度地图）")),
    ]
    return render_template(
        "transfer/import.html",
        layer=layer,
        systems=systems,
        system_names=SYSTEMS,
        api_url=url_for("transfer.import_", layer=layer.name),
        map_url=url_for("mappage.index"),
        list_url=url_for("mappage.layer_list", layer_name=layer.name),
        grids_url=url_for("api.collection", layer_name="grids"),
        texts=page_texts(),
        user=current_user,
    )
