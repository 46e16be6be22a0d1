"""What the git sandbox costs per command: the same git steps with and without bubblewrap.

A scratch repository (the gateway tests' own: submodule, bare remote, agent folders); each
command runs ``ROUNDS`` times through the executor in three ways, interleaved so all three see
the same machine load:

* ``plain git`` — ``git <args>`` straight from the gateway's environment (the floor);
* ``hardened`` — the gateway runtime without a sandbox (``--no-sandbox``): identity file,
  forced ``-c`` settings, the owner's uid;
* ``sandboxed`` — the same inside bubblewrap (the default on Linux): the per-step mount plan
  (one ``git ls-files`` for the zones) plus namespace set-up.

Rows give the median and p95 latency per step; ``ratio`` is against plain git, and the
``sandbox cost`` rows give the median difference sandboxed − hardened in milliseconds.

Run alone: ``.venv/bin/python benchmarks/run.py --only gitgate``.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

ROUNDS = 50
COMMANDS = (("status",), ("log", "-1", "--oneline"), ("commit", "--allow-empty", "-m", "bench"))


def _p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


async def _measure(root: Path, env: dict[str, str]) -> dict[tuple[str, str], list[float]]:
    from agentdock.gitgate.executor import ExecLimits, build_env, run_step
    from agentdock.gitgate.invocation import parse_invocation
    from agentdock.gitgate.runtime import GitRuntime, Launch, RunAs
    from agentdock.gitgate.stepkind import classify

    base = build_env(env, root)
    runtimes = {
        "hardened": GitRuntime.start(root, root / ".git", base, mode="off"),
        "sandboxed": GitRuntime.start(root, root / ".git", base, mode="bwrap"),
    }
    limits = ExecLimits()
    samples: dict[tuple[str, str], list[float]] = {}
    try:
        for _ in range(ROUNDS):
            for words in COMMANDS:
                inv = parse_invocation(list(words))
                name = "git " + words[0]
                plain = Launch(
                    argv=("git", *words), env=base, cwd=root, run_as=RunAs(), kind=classify(inv), display=name
                )
                for subject in ("plain git", "hardened", "sandboxed"):
                    began = time.perf_counter()  # preparing the launch (mount plan) is part of the cost
                    launch = plain if subject == "plain git" else runtimes[subject].launch(inv, "claude")
                    result = await run_step(launch, limits)
                    elapsed = (time.perf_counter() - began) * 1000.0
                    if not result.ok:
                        raise RuntimeError(f"{subject} {name} failed: {result.stderr}")
                    samples.setdefault((name, subject), []).append(elapsed)
    finally:
        for runtime in runtimes.values():
            runtime.close()
    return samples


def run() -> list[dict[str, Any]]:
    from agentdock.gitgate.scratch import scratch_repository

    with tempfile.TemporaryDirectory(prefix="bench-gitgate-") as tmp, scratch_repository(Path(tmp)) as repo:
        samples = anyio.run(_measure, repo.root.resolve(), dict(repo.env))
    rows: list[dict[str, Any]] = []
    for words in COMMANDS:
        name = "git " + words[0]
        floor = statistics.median(samples[(name, "plain git")])
        for subject in ("plain git", "hardened", "sandboxed"):
            values = samples[(name, subject)]
            median = statistics.median(values)
            rows.append(
                {
                    "name": f"{name} latency (median)",
                    "subject": subject,
                    "value": median,
                    "unit": "ms",
                    "ratio": median / floor,
                    "note": f"p95 {_p95(values):.1f} ms, {len(values)} runs",
                }
            )
        cost = statistics.median(samples[(name, "sandboxed")]) - statistics.median(
            samples[(name, "hardened")]
        )
        rows.append(
            {"name": f"{name} sandbox cost", "subject": "sandboxed - hardened", "value": cost, "unit": "ms"}
        )
    return rows


if __name__ == "__main__":
    for row in run():
        ratio = f"{row['ratio']:.2f}x {row.get('note', '')}" if "ratio" in row else row.get("note", "")
        print(f"{row['name']:<34} {row['subject']:<22} {row['value']:>9.2f} {row['unit']:<3} {ratio}")
