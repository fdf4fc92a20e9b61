"""``/dashboard``: figures per street/community/grid and period, charts, CSV and XLSX export."""

import datetime as dt
import io
from typing import Annotated

from flask import Blueprint, Response, render_template
from flask_babel import gettext as _
from flask_login import login_required
from markupsafe import Markup, escape
from openpyxl import Workbook
from pydantic import Field

from app.auth import policy
from app.core.replica import replica_reads
from app.core.time import now
from app.dashboard import charts, services
from app.web.api import parse_query
from app.web.params import Period, Query
from app.web.tables import csv_response, safe_cell

bp = Blueprint("dashboard", __name__)


class DashboardQuery(Query, Period):
    """An area (default: the user's own) and a period (default: the last 30 days)."""

    area: Annotated[str | None, Field(max_length=18, description="area code")] = None


def _load() -> dict:
    policy.require("dashboard.view")
    query = parse_query(DashboardQuery)
    start, end = query.bounds()
    return services.build_dashboard(policy.current_scope(), query.area, start, end)


def _charts(data: dict) -> list:
    cur_label, prev_label = _("本期"), _("上期")
    out = [charts.line_chart(s["title"], s["points"], cur_label, prev_label) for s in data["series"]]
    names = [u["name"] for u in data["units"]]
    for f in data["figures"]:
        if f["name"] == "households":
            continue
        vals = [u["values"][f["name"]] for u in data["units"]]
        out.append(
            charts.bar_chart(
                f"{f['title']}（{f['unit']}）",
                names,
                [v["cur"] for v in vals],
                [v["prev"] for v in vals] if f["timed"] else [None] * len(vals),
                f["digits"],
                cur_label=cur_label,
                prev_label=prev_label if f["timed"] else "",
            )
        )
    return out


def area_options(areas, selected: str) -> Markup:
    """The area picker's ``<option>`` list, indented by level, built in one pass."""
    out = []
    for a in areas:
        indent = "\u3000" * ((len(a.code) - 4) // 3)
        sel = " selected" if a.code == selected else ""
        out.append(f'<option value="{escape(a.code)}"{sel}>{indent}{escape(a.name)}</option>')
    return Markup("".join(out))  # nosec B704 (codes and names escaped above)


def _day(t: dt.datetime) -> str:
    return t.date().isoformat()


@bp.get("/dashboard")
@login_required
@replica_reads
def page():
    """The dashboard page."""
    data = _load()
    p = data["period"]
    last = dt.timedelta(seconds=1)  # the periods end at midnight: show the last day included
    return render_template(
        "dashboard/dashboard.html",
        data=data,
        charts=_charts(data),
        area_options=area_options(services.area_choices(policy.current_scope(), data["area"].code), data["area"].code),
        start=_day(p["start"]),
        end=_day(p["end"] - last),
        prev_start=_day(p["prev_start"]),
        prev_end=_day(p["prev_end"] - last),
        # The figures are read now: stored days and their sums are dropped by the writes that touch
        # them (app.incidents.daily, app.incidents.spans), today and yesterday are counted live.
        as_of=now().strftime("%Y-%m-%d %H:%M"),
    )


def _filename(data, ext):
    p = data["period"]
    return f"wuwei-dashboard-{data['area'].code}-{p['start']:%Y%m%d}-{p['end']:%Y%m%d}.{ext}"


@bp.get("/dashboard/export.csv")
@login_required
@replica_reads
def export_csv():
    """The dashboard table as CSV (UTF-8 with BOM, so that Excel reads the Chinese names)."""
    data = _load()
    header, rows = services.table_rows(data)
    return csv_response(header, rows, _filename(data, "csv"))


def _cells(values) -> list:
    """Spreadsheet-safe cells (``app.web.tables``), empty where there is no value."""
    return [None if v is None else safe_cell(v) for v in values]


@bp.get("/dashboard/export.xlsx")
@login_required
@replica_reads
def export_xlsx():
    """The dashboard table as an Excel workbook, with each breakdown (median per category …) on a sheet of its own."""
    data = _load()
    header, rows = services.table_rows(data)
    wb = Workbook()
    ws = wb.active
    ws.title = "figures"
    ws.append(_cells(header))
    for r in rows:
        ws.append(_cells(r))
    ws.freeze_panes = "C2"
    for table in data["tables"]:
        sheet = wb.create_sheet(table["name"])
        sheet.append([c["header"] for c in table["columns"]])
        for row in table["rows"]:
            sheet.append(_cells(row[c["key"]] for c in table["columns"]))
    buf = io.BytesIO()
    wb.save(buf)
    return Response(
        buf.getvalue(),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{_filename(data, "xlsx")}"'},
    )
