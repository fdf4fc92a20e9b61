"""Localised names of layer attributes and of their coded values (状态、类型 …).

The API speaks field names and codes (``status=installed``); people read
"状态：已安装" or "Status: installed". Features with attributes of their own add
them with :func:`register_labels`; the map popups, legends and list pages read
them from here.
"""

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

FIELD_LABELS: dict[str, object] = {
    "id": _l("编号"),
    "name": _l("名称"),
    "code": _l("编码"),
    "level": _l("层级"),
    "parent_code": _l("上级编码"),
    "note": _l("备注"),
    "workers": _l("负责网格员"),
    "area_km2": _l("面积（平方公里）"),
    "address": _l("地址"),
    "property_company_id": _l("物业公司编号"),
    "property_company": _l("所属物业"),
    "alliance_standing": _l("红色物业联盟"),
    "standing_date": _l("评定日期"),
    "standing_note": _l("评定说明"),
    "contact_person": _l("联系人"),
    "phone": _l("电话"),
    "grid_id": _l("网格编号"),
    "grid_code": _l("网格编码"),
    "grid_name": _l("所属网格"),
    "floors": _l("层数"),
    "households": _l("户数"),
    "ebikes": _l("电动车（摸排）"),
    "charging_note": _l("充电情况"),
    "compound_id": _l("小区编号"),
    "compound": _l("所属小区"),
    "ports": _l("充电口"),
    "power_kw": _l("功率（千瓦）"),
    "status": _l("状态"),
    "installed_on": _l("安装日期"),
    "operator": _l("运营单位"),
    "capacity": _l("容量（车位）"),
    "kind": _l("类型"),
    "area": _l("区域"),
}

VALUE_LABELS: dict[str, dict[str, object]] = {
    "level": {
        "city": _l("市"),
        "district": _l("区"),
        "street": _l("街道"),
        "community": _l("社区"),
        "grid": lazy_pgettext("area level", "网格"),
        "micro_grid": _l("微网格"),
    },
    "status": {
        "planned": _l("规划中"),
        "installed": _l("已安装"),
        "faulty": _l("故障"),
        "removed": _l("已拆除"),
        "active": _l("启用"),
        "closed": _l("停用"),
    },
    "kind": {"shared_bike": _l("共享单车"), "e_bike": _l("电动自行车"), "mixed": _l("混合")},
    "alliance_standing": {"model_unit": _l("示范单位"), "member": _l("成员单位"), "none": _l("非成员")},
}


def register_labels(fields: dict | None = None, values: dict | None = None) -> None:
    """Add attribute labels (name → lazy string) and value labels (name → {code → lazy string})."""
    FIELD_LABELS.update(fields or {})
    for name, mapping in (values or {}).items():
        VALUE_LABELS.setdefault(name, {}).update(mapping)


def field_label(name: str) -> str:
    """The label of attribute ``name`` in the current language (the name itself when unknown)."""
    label = FIELD_LABELS.get(name)
    return str(label) if label is not None else name


def value_label(name: str, value) -> str:
    """The label of a coded value of attribute ``name`` (the value itself when unknown)."""
    if value is None:
        return ""
    label = VALUE_LABELS.get(name, {}).get(value)
    return str(label) if label is not None else str(value)


def value_labels(names) -> dict[str, dict[str, str]]:
    """Value labels of the given attributes, as plain strings for the browser."""
    return {n: {k: str(v) for k, v in VALUE_LABELS[n].items()} for n in names if n in VALUE_LABELS}
