"""Tables for spreadsheets: CSV and XLSX answers whose cells are never run as formulas.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to Excel
and LibreOffice (CSV injection); :func:`safe_cell` prefixes such text with an apostrophe. Numbers
stay numbers. Every export goes through :func:`csv_response` or :func:`safe_row`.
"""

import csv
import io
from collections.abc import Iterable

from flask import Response, stream_with_context

FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def safe_cell(value):
    """``value`` fit for a spreadsheet cell: text that would start a formula gets a leading ``'``."""
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    s = str(value)
    return "'" + s if s[:1] in FORMULA_LEADS and not _is_number(s) else s


def safe_row(values: Iterable) -> list:
    """Every cell of a row through :func:`safe_cell`."""
    return [safe_cell(v) for v in values]


def csv_response(header: list[str], rows: Iterable[Iterable], filename: str, stream: bool = False) -> Response:
    """A CSV download (UTF-8 with a BOM, so that Excel reads Chinese), every cell made safe."""

    def generate():
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(header)
        yield "\ufeff" + buf.getvalue()
        for row in rows:
            buf.seek(0)
            buf.truncate()
            w.writerow(safe_row(row))
            yield buf.getvalue()

    body = stream_with_context(generate()) if stream else "".join(generate())
    return Response(body, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{filename}"'})
