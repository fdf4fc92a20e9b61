"""``/dashboard``: figures per street/community/grid and period, charts, CSV and XLSX export."""
import csv
import io

from flask import Blueprint, Response, render_template, request
from flask_babel import gettext as _
from flask_login import login_required
from markupsafe import Markup, escape

from app.auth.access import current_scope, require_role
from app.dashboard import charts, services
from app.heatmaps.params import parse_period

bp = Blueprint("dashboard", __name__)
DASHBOARD_ROLES = ("admin", "leader", "planner", "staff")
KNOWN = {"area", "from", "to", "lang", "_"}


def _load():
    require_role(*DASHBOARD_ROLES)
    unknown = set(request.args) - KNOWN
    if unknown:
        from app.core.errors import ApiError
        raise ApiError(400, f"unknown parameter(s): {', '.join(sorted(unknown))}",
                       {n: "unknown parameter" for n in unknown})
    start, end = parse_period()
    return services.build_dashboard(current_scope(), request.args.get("area"), start, end)


def _charts(data: dict) -> list:
    cur_label, prev_label = _("本期"), _("上期")
    out = [charts.line_chart(_("每日上报事件"), data["daily"], cur_label, prev_label)]
    names = [u["name"] for u in data["units"]]
    for f in data["figures"]:
        if f["name"] == "households":
            continue
        vals = [u["values"][f["name"]] for u in data["units"]]
        out.append(charts.bar_chart(f"{f['title']}（{f['unit']}）", names, [v["cur"] for v in vals],
                                    [v["prev"] for v in vals] if f["timed"] else [None] * len(vals),
                                    f["digits"], cur_label=cur_label, prev_label=prev_label if f["timed"] else ""))
    return out


def area_options(areas, selected: str) -> Markup:
    """The area picker's ``<option>`` list, indented by level, built in one pass."""
    out = []
    for a in areas:
        indent = "\u3000" * ((len(a.code) - 4) // 3)
        sel = " selected" if a.code == selected else ""
        out.append(f'<option value="{escape(a.code)}"{sel}>{indent}{escape(a.name)}</option>')
    return Markup("".join(out))


@bp.get("/dashboard")
@login_required
def page():
    """The dashboard page."""
    data = _load()
    p = data["period"]
    import datetime as dt
    return render_template("dashboard/dashboard.html", data=data, charts=_charts(data),
                           area_options=area_options(services.area_choices(current_scope(), data["area"].code),
                                                       data["area"].code),
                           start=p["start"].date().isoformat(),
                           end=(p["end"] - dt.timedelta(seconds=1)).date().isoformat(),
                           prev_start=p["prev_start"].date().isoformat(),
                           prev_end=(p["prev_end"] - dt.timedelta(seconds=1)).date().isoformat())


def _filename(data, ext):
    p = data["period"]
    return f"wuwei-dashboard-{data['area'].code}-{p['start']:%Y%m%d}-{p['end']:%Y%m%d}.{ext}"


@bp.get("/dashboard/export.csv")
@login_required
def export_csv():
    """The dashboard table as CSV (UTF-8 with BOM, so that Excel reads the Chinese names)."""
    data = _load()
    header, rows = services.table_rows(data)
    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    return Response(buf.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={_filename(data, 'csv')}"})


@bp.get("/dashboard/export.xlsx")
@login_required
def export_xlsx():
    """The dashboard table as an Excel workbook (openpyxl), with the median per category on a second sheet."""
    from openpyxl import Workbook
    data = _load()
    header, rows = services.table_rows(data)
    wb = Workbook()
    ws = wb.active
    ws.title = "figures"
    ws.append(header)
    for r in rows:
        ws.append(r)
    ws.freeze_panes = "C2"
    cat = wb.create_sheet("median_by_category")
    cat.append(["code", "name", "closed", "median_hours"])
    for c in data["by_category"]:
        cat.append([c["code"], c["name"], c["n"], c["median"]])
    buf = io.BytesIO()
    wb.save(buf)
    return Response(buf.getvalue(),
                    mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f"attachment; filename={_filename(data, 'xlsx')}"})
