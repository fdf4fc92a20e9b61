"""Server-rendered SVG charts for the dashboard: no chart library, nothing loaded from elsewhere.

Each function returns one ``<svg>`` element as a string (text escaped), small enough to inline.
"""

from markupsafe import Markup, escape

CUR, PREV = "#b42318", "#9ca3af"


def _fmt(v, digits=0) -> str:
    if v is None:
        return "–"
    return f"{v:,.{digits}f}"


def bar_chart(
    title: str,
    labels: list[str],
    cur: list,
    prev: list,
    digits: int = 0,
    max_rows: int = 25,
    cur_label: str = "",
    prev_label: str = "",
) -> Markup:
    """Horizontal bars per unit, this period (red) over the previous one (grey); the largest ``max_rows``."""
    rows = sorted(zip(labels, cur, prev), key=lambda r: -(r[1] or 0))[:max_rows]
    width, left, bar_h, gap = 560, 170, 9, 6
    height = 40 + len(rows) * (2 * bar_h + gap) + 20
    top = max([v or 0 for _, c, p in rows for v in (c, p)] + [1])
    scale = (width - left - 60) / top
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}"><title>{escape(title)}</title>'
        ),
        f'<text x="0" y="16" class="chart-title">{escape(title)}</text>',
        (
            f'<rect x="{left}" y="24" width="10" height="8" fill="{CUR}"/>'
            f'<text x="{left + 14}" y="32" class="chart-small">{escape(cur_label)}</text>'
            f'<rect x="{left + 150}" y="24" width="10" height="8" fill="{PREV}"/>'
            f'<text x="{left + 164}" y="32" class="chart-small">{escape(prev_label)}</text>'
        ),
    ]
    y = 40
    for label, c, p in rows:
        name = label if len(label) <= 12 else label[:11] + "…"
        parts.append(
            f'<text x="{left - 6}" y="{y + bar_h + 3}" text-anchor="end" class="chart-label">{escape(name)}</text>'
        )
        parts.append(
            f'<rect x="{left}" y="{y}" width="{(c or 0) * scale:.1f}" height="{bar_h}" fill="{CUR}"/>'
            f'<text x="{left + (c or 0) * scale + 4:.1f}" y="{y + bar_h - 1}" class="chart-small">'
            f"{_fmt(c, digits)}</text>"
        )
        parts.append(
            f'<rect x="{left}" y="{y + bar_h}" width="{(p or 0) * scale:.1f}" height="{bar_h}" fill="{PREV}"/>'
        )
        y += 2 * bar_h + gap
    if not rows:
        parts.append(f'<text x="{left}" y="60" class="chart-small">–</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # nosec B704 (every text in the SVG is escaped; the rest are numbers)


def line_chart(title: str, series: list[tuple], cur_label: str = "", prev_label: str = "") -> Markup:
    """Daily counts of this period (red) and of the previous one (grey, day by day aligned)."""
    width, height, left, bottom, top_pad = 560, 200, 40, 30, 34
    n = max(1, len(series))
    top = max([max(c, p) for _, c, p in series] + [1])
    xs = [left + k * (width - left - 10) / max(1, n - 1) for k in range(n)]

    def ys(vals):
        return [height - bottom - v * (height - bottom - top_pad) / top for v in vals]

    def path(vals):
        return " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys(vals)))

    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}"><title>{escape(title)}</title>'
        ),
        f'<text x="0" y="16" class="chart-title">{escape(title)}</text>',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" stroke="#999"/>',
        f'<text x="{left - 4}" y="{top_pad + 4}" text-anchor="end" class="chart-small">{top}</text>',
        f'<text x="{left - 4}" y="{height - bottom}" text-anchor="end" class="chart-small">0</text>',
    ]
    if series:
        parts.append(
            f'<polyline fill="none" stroke="{PREV}" stroke-width="1.5" points="{path([p for _, _, p in series])}"/>'
        )
        parts.append(
            f'<polyline fill="none" stroke="{CUR}" stroke-width="2" points="{path([c for _, c, _ in series])}"/>'
        )
        for k in sorted({0, n // 2, n - 1}):
            parts.append(
                f'<text x="{xs[k]:.1f}" y="{height - 10}" text-anchor="middle" class="chart-small">'
                f"{escape(series[k][0].isoformat())}</text>"
            )
    parts.append(
        f'<rect x="{left + 10}" y="24" width="10" height="8" fill="{CUR}"/>'
        f'<text x="{left + 24}" y="32" class="chart-small">{escape(cur_label)}</text>'
        f'<rect x="{left + 160}" y="24" width="10" height="8" fill="{PREV}"/>'
        f'<text x="{left + 174}" y="32" class="chart-small">{escape(prev_label)}</text>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))  # nosec B704 (every text in the SVG is escaped; the rest are numbers)
