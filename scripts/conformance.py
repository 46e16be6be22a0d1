"""Run the official MCP conformance suite against agentdock (``nox -s conformance``).

Parts (each ``scripts/conformance/<part>.py`` exposing ``run(toolchain, out_dir)``):

* ``proxy`` — the suite's client scenarios, driven by the ``mcp`` SDK client through the proxy;
* ``qms``   — the suite's server scenarios that apply to qms-mcp (no fixture tools), through a
  forwarder adding its bearer token; applicability table in ``<out>/qms/applicability.md``.

Usage: ``python scripts/conformance.py [--only proxy,qms] [--out DIR]``. Node 22 and the
suite are installed on first use into ``.nox/conformance-node`` (see ``conformance/common.py``).
Exit status 0 only when every scenario that ran passed.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "src")]

from conformance.common import REPO, ScenarioResult, ensure_toolchain, summarise  # noqa: E402

PARTS = ("proxy", "qms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", default="", help="comma list of parts: " + ", ".join(PARTS))
    parser.add_argument("--out", type=Path, default=REPO / "reports" / "conformance")
    args = parser.parse_args(argv)
    wanted = [p.strip() for p in args.only.split(",") if p.strip()] or list(PARTS)
    unknown = sorted(set(wanted) - set(PARTS))
    if unknown:
        parser.error(f"unknown part(s): {', '.join(unknown)}")
    toolchain = ensure_toolchain()
    results: list[ScenarioResult] = []
    for part in wanted:
        if not (HERE / "conformance" / f"{part}.py").exists():
            print(f"conformance: part {part!r} not present yet; skipped", file=sys.stderr)
            continue
        module = importlib.import_module(f"conformance.{part}")
        results += module.run(toolchain, args.out)
    return summarise(results)


if __name__ == "__main__":
    sys.exit(main())
