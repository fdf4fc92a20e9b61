"""``/assessment``: the grid workers of an area and their work in a period (网格员考核), one worker's page
against the period before, and the table as CSV or XLSX (cells made safe by :mod:`app.web.tables`)."""

import datetime as dt
import io
from typing import Annotated, Literal

from flask import Blueprint, Response, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required
from openpyxl import Workbook
from pydantic import Field

from app.assessment import services
from app.auth import policy
from app.core.errors import ApiError
from app.core.replica import replica_reads
from app.core.time import TZ
from app.web.api import parse_query
from app.web.params import AreaCode, Period, Query
from app.web.tables import csv_response, safe_row

bp = Blueprint("assessment", __name__, url_prefix="/assessment")
PERMISSION = "workers.assess"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class AssessmentQuery(Query, Period):
    """An area (default: the user's own) and a period (default: the last 30 days)."""

    area: Annotated[AreaCode | None, Field(description="area code")] = None
    format: Literal["csv", "xlsx"] | None = None


@bp.errorhandler(ApiError)
def _page_error(e: ApiError):
    return render_template("error.html", status=e.status, message=e.describe()), e.status


def _shown(value) -> object:
    """A value for a cell: "<5" where the small-count rule hid it."""
    return f"<{policy.SMALL_COUNT}" if value is None else value


def _table(data: dict) -> tuple[list[str], list[list]]:
    header = [_("网格员"), _("账号"), _("负责网格")] + [f"{m.title}（{m.unit}）" for m in data["measures"]]
    rows = [
        [w["name"], w["username"], " ".join(w["grids"])] + [_shown(w["values"][m.name]) for m in data["measures"]]
        for w in data["workers"]
    ]
    return header, rows


def _filename(data: dict, ext: str) -> str:
    code = data["area"].code if data["area"] else "all"
    last = data["end"] - dt.timedelta(seconds=1)
    return f"wuwei-assessment-{code}-{data['start'].astimezone(TZ):%Y%m%d}-{last.astimezone(TZ):%Y%m%d}.{ext}"


def _xlsx(header: list[str], rows: list[list], filename: str) -> Response:
    wb = Workbook()
    ws = wb.active
    ws.title = "assessment"
    ws.append(safe_row(header))
    for r in rows:
        ws.append(safe_row(r))
    ws.freeze_panes = "B2"
    buf = io.BytesIO()
    wb.save(buf)
    return Response(
        buf.getvalue(), mimetype=XLSX, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


@bp.get("/")
@login_required
@replica_reads
def index():
    """Every grid worker of the area in the period; ``format=csv|xlsx`` downloads the table."""
    policy.require(PERMISSION)
    query = parse_query(AssessmentQuery)
    start, end = query.bounds()
    data = services.assessment(policy.current_scope(), current_user, query.area, start, end)
    if query.format:
        header, rows = _table(data)
        if query.format == "csv":
            return csv_response(header, rows, _filename(data, "csv"))
        return _xlsx(header, rows, _filename(data, "xlsx"))
    return render_template(
        "assessment/index.html",
        data=data,
        args=request.args,
        shown=_shown,
        exact=policy.reads_personal(current_user),
        last_day=(end - dt.timedelta(seconds=1)).astimezone(TZ).date(),
        first_day=start.astimezone(TZ).date(),
    )


@bp.get("/workers/<int:user_id>")
@login_required
@replica_reads
def worker(user_id: int):
    """One grid worker: each measure in the period and in the period before it."""
    policy.require(PERMISSION)
    query = parse_query(AssessmentQuery)
    start, end = query.bounds()
    data = services.worker(policy.current_scope(), current_user, user_id, start, end)
    return render_template(
        "assessment/worker.html",
        data=data,
        args=request.args,
        shown=_shown,
        exact=policy.reads_personal(current_user),
        first_day=start.astimezone(TZ).date(),
        last_day=(end - dt.timedelta(seconds=1)).astimezone(TZ).date(),
        before_day=data["before"].astimezone(TZ).date(),
    )
