"""What least privilege costs an agent container: start time and memory, hardened vs not.

Both rows go through the launcher's own ``start_agent_container`` (same image, mounts and
entrypoint).  "hardened" is what ``./launch.sh`` runs (no capabilities, no-new-privileges,
read-only root with tmpfs scratch, memory 2g / pids 512 / cpus 2, the agents' network); "plain"
is the same call with the hardening options replaced by Docker's defaults (a writable root,
default capabilities, no limits) — for this measurement only.  The two alternate so both see the
same machine load.  Per launch: time until ``docker run`` returns, until the entrypoint's
readiness marker, ``claude --version`` inside, and the container's memory while Claude Code
runs a ``claude -p`` against a dead ``ANTHROPIC_BASE_URL`` (its start-up work, no model).

Run alone: ``.venv/bin/python benchmarks/run.py --only hardening``.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

LAUNCHES = 4
CLAUDE_P = "ANTHROPIC_BASE_URL=http://127.0.0.1:9 ANTHROPIC_API_KEY=sk-bench timeout 12 claude -p hello"


@contextlib.contextmanager
def _plain() -> Iterator[None]:
    from agentdock.launcher import containers

    original = containers.run_options
    containers.run_options = lambda *a, **k: {"read_only": False}  # type: ignore[assignment]
    try:
        yield
    finally:
        containers.run_options = original  # type: ignore[assignment]


def _memory_mib(container: Any) -> float:
    stats = container.stats(stream=False).get("memory_stats", {})
    usage = float(stats.get("usage", 0))
    cache = float((stats.get("stats") or {}).get("total_inactive_file", 0) or 0)
    return (usage - cache) / 2**20


def _one(client: Any, spec: Any, hardened: bool) -> dict[str, float]:
    from agentdock.launcher import remove_container, start_agent_container, wait_until_ready

    began = time.perf_counter()
    with contextlib.nullcontext() if hardened else _plain():
        container = start_agent_container(client, spec)
    try:
        start_ms = (time.perf_counter() - began) * 1000
        wait_until_ready(container, 90.0, poll_s=0.05)
        ready_ms = (time.perf_counter() - began) * 1000
        t0 = time.perf_counter()
        assert container.exec_run(["claude", "--version"]).exit_code == 0
        version_ms = (time.perf_counter() - t0) * 1000
        container.exec_run(["bash", "-c", CLAUDE_P], detach=True)
        peak = 0.0
        for _ in range(12):  # ~6 s of Claude Code start-up, sampled
            time.sleep(0.5)
            peak = max(peak, _memory_mib(container))
        return {"start": start_ms, "ready": ready_ms, "version": version_ms, "memory": peak}
    finally:
        remove_container(container)


def run() -> list[dict[str, Any]]:
    from agentdock.launcher import (
        AgentContainerSpec,
        ImageSpec,
        LayoutSpec,
        agentdock_checkout,
        container_ids,
        ensure_image,
        provision_token,
    )
    from agentdock.launcher.engine import DockerUnavailable, docker_engine
    from agentdock.launcher.project import init_demo_project

    tag = os.environ.get("AGENTDOCK_TEST_IMAGE", "claude-agent")
    try:
        with docker_engine() as client, tempfile.TemporaryDirectory() as tmp:
            uid, gid = container_ids()
            ensure_image(client, ImageSpec(repo=agentdock_checkout(), tag=tag, uid=uid, gid=gid))
            root = Path(tmp) / "bench"
            init_demo_project(root)
            layout = LayoutSpec(root, "qa", provision_token(root, "qa"), qms_port=1, git_port=2,
                                projects=Path(tmp))  # fmt: skip
            spec = AgentContainerSpec(layout=layout, image=tag, uid=uid, gid=gid,
                                      labels={"io.agentdock.bench": "hardening"})  # fmt: skip
            samples: dict[bool, list[dict[str, float]]] = {True: [], False: []}
            for _ in range(LAUNCHES):
                for hardened in (False, True):
                    samples[hardened].append(_one(client, spec, hardened))
    except DockerUnavailable as exc:
        return [{"name": "agent start, hardened vs plain", "value": None, "unit": "ms",
                 "note": f"not measured: {exc}"[:200]}]  # fmt: skip
    rows = []
    med = statistics.median
    for key, name, unit in (
        ("start", "agent container start (docker run returns)", "ms"),
        ("ready", "agent container ready (entrypoint marker)", "ms"),
        ("version", "claude --version inside", "ms"),
        ("memory", "memory while claude -p starts (peak of 12 samples)", "MiB"),
    ):
        plain, hard = med(s[key] for s in samples[False]), med(s[key] for s in samples[True])
        rows.append({"name": name, "subject": "plain (Docker defaults)", "value": plain, "unit": unit,
                     "ratio": 1.0, "note": f"n={LAUNCHES}; baseline"})  # fmt: skip
        rows.append({"name": name, "subject": "hardened (2g/512/2 cpus, ro root)", "value": hard,
                     "unit": unit, "ratio": hard / plain if plain else None,
                     "note": f"n={LAUNCHES}; ratio vs plain"})  # fmt: skip
    return rows


if __name__ == "__main__":
    from rich.pretty import pprint

    pprint(run())
