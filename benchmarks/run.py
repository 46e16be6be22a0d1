"""Run every ``benchmarks/bench_*.py`` module and print one side-by-side table.

Each module exposes ``run() -> list[dict]``; a row has at least ``name``,
``value`` and ``unit`` and may carry ``subject`` (what was measured: proxy,
direct, mcp-proxy, mcp-remote, ...), ``ratio`` (value relative to the row's
baseline in the same run) and ``note``.  Rows are also written as JSON to
``reports/bench/results.json`` so a run can be compared with a later one.

Usage: ``nox -s bench [-- --only proxy,qms] [--out DIR]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent


def _load(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.1f}"
    return "" if value is None else str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", default="", help="comma list of module suffixes (bench_<name>.py)")
    parser.add_argument("--out", type=Path, default=Path("reports/bench"))
    args = parser.parse_args(argv)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # benchmarks make root-owned scratch projects; servers refuse root on those unless allowed
        os.environ.setdefault("AGENTDOCK_ALLOW_ROOT", "1")
    wanted = {w.strip() for w in args.only.split(",") if w.strip()}
    console = Console()
    rows: list[dict[str, Any]] = []
    failed: list[str] = []
    for path in sorted(HERE.glob("bench_*.py")):
        suite = path.stem.removeprefix("bench_")
        if wanted and suite not in wanted:
            continue
        console.rule(f"[bold]{suite}")
        started = time.perf_counter()
        try:
            produced = _load(path).run()
        except Exception:
            console.print(traceback.format_exc(), markup=False)
            failed.append(suite)
            continue
        for row in produced:
            rows.append({"suite": suite, **row})
        console.print(f"{suite}: {len(produced)} rows in {time.perf_counter() - started:.1f} s")

    table = Table(title="agentdock benchmarks (one run, side by side)")
    for column in ("suite", "name", "subject", "value", "unit", "ratio", "note"):
        table.add_column(column, justify="right" if column in {"value", "ratio"} else "left")
    for row in rows:
        ratio = row.get("ratio")
        table.add_row(
            row["suite"],
            str(row.get("name", "")),
            str(row.get("subject", "")),
            _fmt(row.get("value")),
            str(row.get("unit", "")),
            f"{ratio:.2f}x" if isinstance(ratio, (int, float)) else _fmt(ratio),
            str(row.get("note", "")),
        )
    console.print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(rows, indent=2, default=str) + "\n")
    if failed:
        console.print(f"[red]benchmark suites failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
