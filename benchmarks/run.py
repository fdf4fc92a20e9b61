"""``make bench``: run every ``benchmarks/bench_*.py`` and write ``docs/benchmarks.md``.

``python -m benchmarks.run [name ...]`` runs only the named modules (e.g. ``layers``).
"""

import datetime as dt
import importlib
import os
import platform
import sys
import traceback

from benchmarks.common import ROOT, Context, bench_url


def _prepare():
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "scripts"))
    import flask_migrate
    from ensure_db import ensure_database

    from app import create_app
    from app.seed.demo import database_is_empty, seed_demo

    url = bench_url()
    ensure_database(url)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_ENABLED": False, "LOG_LEVEL": "WARNING"})
    with app.app_context():
        flask_migrate.upgrade(revision="heads")
        if database_is_empty():
            seed_demo()
    return Context(url=url, app=app)


def _fmt(v):
    if v is None:
        return "–"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.2f}"


def main(argv: list[str]) -> int:
    ctx = _prepare()
    names = sorted(p.stem[len("bench_") :] for p in (ROOT / "benchmarks").glob("bench_*.py"))
    if argv:
        names = [n for n in names if n in argv]
    sections, failed = [], False
    for name in names:
        print(f"bench: {name} …", flush=True)
        module = importlib.import_module(f"benchmarks.bench_{name}")
        try:
            results = module.run(ctx)
        except Exception:  # noqa: BLE001 (one failing benchmark is reported; the others still run)
            traceback.print_exc()
            failed = True
            sections.append((name, module.__doc__ or "", None))
            continue
        for r in results:
            print(
                f"  {r.name}: {_fmt(r.value)} {r.unit}"
                + (f" (baseline {r.baseline_label}: {_fmt(r.baseline_value)})" if r.baseline_value else "")
            )
        sections.append((name, module.__doc__ or "", results))
    lines = [
        "# Benchmarks",
        "",
        (
            f"Written by `make bench` on {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; "
            f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}. "
            "Each figure stands beside a baseline measured in the same run; ratio = figure / baseline "
            "(for times, lower is better; for rates, higher)."
        ),
        "",
    ]
    for name, doc, results in sections:
        lines += [f"## {name}", "", doc.strip(), ""]
        if results is None:
            lines += ["**This benchmark failed in this run; see the console output.**", ""]
            continue
        lines += [
            "| measure | value | unit | baseline | baseline value | ratio | note |",
            "|---|---:|---|---|---:|---:|---|",
        ]
        for r in results:
            ratio = f"{r.ratio:.2f}×" if r.ratio else "–"
            lines.append(
                f"| {r.name} | {_fmt(r.value)} | {r.unit} | {r.baseline_label} | "
                f"{_fmt(r.baseline_value)} | {ratio} | {r.note} |"
            )
        lines.append("")
    only = set(argv)
    out = ROOT / "docs" / ("benchmarks.md" if not only else f"benchmarks-{'-'.join(sorted(only))}.md")
    out.write_text("\n".join(lines) + "\n")
    print(f"bench: wrote {out.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
