"""The QMS growth curve: ms per operation as a project grows to 10, 100, 1,000 (10,000) documents.

Each project holds N change records, each created and checked in through the real ``Qms`` code
path; the last five are routed for review, so qa's inbox holds five tasks whatever N is (``inbox``
must cost the caller's tasks, not the project's documents).

*Building.*  The documents are made by the same ``Qms.create``/``checkin``/``route`` calls as in
production, in a child process whose ``os.fsync`` is a no-op: the files are byte-for-byte those
the durable path writes (fsync changes when bytes reach the disk, not which bytes), only faster.
Built projects are cached under ``$XDG_CACHE_HOME/agentdock/bench-qms/<N>-v<BUILD>`` and copied
for each run (``--rebuild`` builds them again; bump ``BUILD`` when the files the QMS writes change).  Copying gives every file a new inode, so the first
``status-all`` of a run finds the whole index stale and rebuilds it: that figure is reported as
``status-all (rebuild)``.

*Measuring* uses the durable path (real fsync): median ms of ``create`` (a CR), ``checkin`` (of a
document checked out beforehand), ``inbox`` (qa), ``status-one`` and ``status-all``.

Sizes: ``AGENTDOCK_BENCH_QMS_SIZES`` (default ``10,100,1000``; add ``10000`` for the long form).
Run alone: ``python benchmarks/qms_growth.py [--sizes 10,100,1000,10000] [--src DIR]`` (``--src``
measures another checkout's ``src``, for before/after figures on the same projects).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

DEFAULT_SIZES = (10, 100, 1000)
ROUTED = 5
REPEAT = {"create": 5, "checkin": 5, "inbox": 20, "status-one": 20, "status-all": 5}
OPS = ("create", "checkin", "inbox", "status-one", "status-all (rebuild)", "status-all")
HERE = Path(__file__).resolve().parent


def _cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "agentdock" / "bench-qms"


BUILD = 1


def _build(root: Path, size: int) -> None:
    """Run in a child process: the real code path, with fsync a no-op (same bytes, less waiting)."""
    os.fsync = lambda fd: None
    from agentdock.qms.project import init_project
    from agentdock.qms.service import Qms

    init_project(root)
    (root / "QMS" / ".meta" / "limits.json").write_text('{"max_creates_per_window": 1000000}\n')
    qms = Qms(root)
    for i in range(size):
        doc = qms.create("claude", "CR", f"Change record {i + 1}").data["doc_id"]
        qms.checkin("claude", doc)
        if i >= size - ROUTED:
            qms.route("claude", doc, "review")


def project(size: int, *, rebuild: bool = False) -> Path:
    """A cached project of ``size`` documents."""
    target = _cache_dir() / f"{size}-v{BUILD}"
    if (target / ".complete").exists() and not rebuild:
        return target
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    child = multiprocessing.get_context("fork").Process(target=_build, args=(target, size))
    child.start()
    child.join()
    if child.exitcode != 0:
        raise RuntimeError(f"building the {size}-document project failed (exit {child.exitcode})")
    (target / ".complete").write_text(f"{time.perf_counter() - started:.1f} s\n")
    return target


def _median_ms(fn: Callable[[], Any], n: int) -> float:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def measure(root: Path) -> dict[str, float]:
    """ms per operation on (a copy of) one project, through whatever ``agentdock`` is importable."""
    from agentdock import paths
    from agentdock.qms.service import Qms

    qms = Qms(root)
    figures: dict[str, float] = {}
    start = time.perf_counter()
    everything = qms.status("qa")
    figures["status-all (rebuild)"] = (time.perf_counter() - start) * 1000
    figures["status-all"] = _median_ms(lambda: qms.status("qa"), REPEAT["status-all"])
    first = everything.data["documents"][0]["id"]
    figures["status-one"] = _median_ms(lambda: qms.status("qa", first), REPEAT["status-one"])
    figures["inbox"] = _median_ms(lambda: qms.inbox("qa"), REPEAT["inbox"])
    figures["create"] = _median_ms(lambda: qms.create("claude", "CR", "bench"), REPEAT["create"])
    samples = []
    for doc in [r["id"] for r in everything.data["documents"] if r["status"] == "DRAFT"][: REPEAT["checkin"]]:
        qms.checkout("claude", doc)
        workspace = paths.agent_workspace_dir(root, "claude") / f"{doc}.md"
        workspace.write_text(workspace.read_text().replace("revision_summary:", "revision_summary: bench"))
        start = time.perf_counter()
        qms.checkin("claude", doc)
        samples.append(time.perf_counter() - start)
    figures["checkin"] = statistics.median(samples) * 1000
    return figures


def _measure_copy(cached: Path, src: Path | None) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-qms-growth-") as tmp:
        root = Path(tmp) / "project"
        shutil.copytree(cached, root, symlinks=True)
        if src is None:
            return measure(root)
        # another checkout's code: a fresh interpreter importing its src first
        code = f"import json,sys; sys.path.insert(0, {str(HERE)!r}); import qms_growth; print(json.dumps(qms_growth.measure(__import__('pathlib').Path({str(root)!r}))))"
        import subprocess

        out = subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONPATH": str(src)},
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return dict(json.loads(out.strip().splitlines()[-1]))


def sizes_from_env(environ: dict[str, str] | None = None) -> tuple[int, ...]:
    raw = (environ if environ is not None else dict(os.environ)).get("AGENTDOCK_BENCH_QMS_SIZES", "")
    return tuple(int(x) for x in raw.split(",") if x.strip()) or DEFAULT_SIZES


def growth(
    sizes: tuple[int, ...], src: Path | None = None, *, rebuild: bool = False
) -> dict[int, dict[str, float]]:
    return {size: _measure_copy(project(size, rebuild=rebuild), src) for size in sizes}


def rows(curve: dict[int, dict[str, float]]) -> list[dict[str, Any]]:
    out = []
    for size, figures in curve.items():
        for op in OPS:
            out.append(
                {
                    "name": f"qms growth: {op} @ {size:,} docs",
                    "subject": "in-process",
                    "value": figures[op],
                    "unit": "ms",
                }
            )
    return out


def table(curve: dict[int, dict[str, float]]) -> str:
    sizes = list(curve)
    lines = [f"{'ms per op':<22}" + "".join(f"{s:>10,}" for s in sizes)]
    for op in OPS:
        lines.append(f"{op:<22}" + "".join(f"{curve[s][op]:>10.2f}" for s in sizes))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="")
    parser.add_argument("--src", type=Path, default=None, help="measure this checkout's src/ instead")
    parser.add_argument("--rebuild", action="store_true", help="build the cached projects again")
    args = parser.parse_args(argv)
    sizes = sizes_from_env({"AGENTDOCK_BENCH_QMS_SIZES": args.sizes}) if args.sizes else sizes_from_env()
    print(table(growth(sizes, args.src, rebuild=args.rebuild)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
