"""Agent container launch rate: how fast a fresh container, as ``./launch.sh`` starts it, is ready.

Sets up what the soak sets up (a throwaway QMS project, qms-mcp and git-mcp on
free ports, the agent image — built when its inputs changed), then starts and
removes agent containers one after another through the launcher's API
(``start_agent_container`` -> ``wait_until_ready`` -> ``remove_container``).
Beside it, the same loop with a bare ``debian:bookworm-slim`` container
(``sleep infinity``, removed at once) as the floor, alternating with the agent
launches so both see the same machine load: ratios say what the agent image
and its entrypoint cost on top.

Run alone: ``.venv/bin/python benchmarks/run.py --only launch``.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import anyio

LAUNCHES = 10


def _loops(env: Any) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    from agentdock.launcher import (
        AgentContainerSpec,
        LayoutSpec,
        remove_container,
        start_agent_container,
        wait_until_ready,
    )
    from agentdock.launcher.engine import base_image, running_container

    agent = next(iter(env.tokens))
    out: dict[str, list[float]] = {"start": [], "ready": [], "cycle": []}
    bare: dict[str, list[float]] = {"start": [], "cycle": []}
    for index in range(LAUNCHES):
        spec = AgentContainerSpec(
            layout=LayoutSpec(
                root=env.root,
                agent=agent,
                token=env.tokens[agent],
                qms_port=env.ports["qms"],
                git_port=env.ports["git"],
                projects=env.projects_dir,
            ),
            image=env.image,
            uid=env.uid,
            gid=env.gid,
            name=f"agentdock-bench-launch-{index}",
            labels={"io.agentdock.bench": "launch"},
        )
        began = time.perf_counter()
        container = start_agent_container(env.client, spec)
        try:
            out["start"].append((time.perf_counter() - began) * 1000.0)
            wait_until_ready(container, 90.0, poll_s=0.05)
            out["ready"].append((time.perf_counter() - began) * 1000.0)
        finally:
            remove_container(container)
        out["cycle"].append((time.perf_counter() - began) * 1000.0)
        began = time.perf_counter()
        with running_container(env.client, base_image()):
            bare["start"].append((time.perf_counter() - began) * 1000.0)
        bare["cycle"].append((time.perf_counter() - began) * 1000.0)
    return out, bare


async def _measure() -> tuple[dict[str, list[float]], dict[str, list[float]], str]:
    from agentdock.soak.environment import EnvironmentSettings, open_environment

    async with open_environment(EnvironmentSettings(workers=1)) as env:
        agent, bare = await anyio.to_thread.run_sync(_loops, env)
        return agent, bare, env.image_tag


def run() -> list[dict[str, Any]]:
    from agentdock.soak.errors import SoakSetupError

    try:
        agent, bare, image = anyio.run(_measure)
    except SoakSetupError as exc:  # no engine, no image build, servers did not start: say so in the table
        return [{"name": "launch rate (start, ready, remove)", "subject": "claude-agent", "value": None,
                 "unit": "launches/min", "note": f"not measured: {exc}"[:200]}]  # fmt: skip
    med = statistics.median
    rate_agent = 60_000.0 / med(agent["cycle"])
    rate_bare = 60_000.0 / med(bare["cycle"])
    note = f"n={LAUNCHES}, one at a time"
    return [
        {"name": "container start (docker run returns)", "subject": "bare base", "value": med(bare["start"]),
         "unit": "ms", "ratio": 1.0, "note": f"n={LAUNCHES}; baseline"},
        {"name": "container start (docker run returns)", "subject": image, "value": med(agent["start"]),
         "unit": "ms", "ratio": med(agent["start"]) / med(bare["start"]), "note": f"{note}; ratio vs bare base"},
        {"name": "container ready (entrypoint marker)", "subject": image, "value": med(agent["ready"]),
         "unit": "ms", "note": f"{note}; p95 {statistics.quantiles(agent['ready'], n=20)[-1]:.0f} ms"},
        {"name": "launch rate (start, ready, remove)", "subject": "bare base", "value": rate_bare,
         "unit": "launches/min", "ratio": 1.0, "note": "baseline: start + remove"},
        {"name": "launch rate (start, ready, remove)", "subject": image, "value": rate_agent,
         "unit": "launches/min", "ratio": rate_agent / rate_bare, "note": f"{note}; ratio vs bare base"},
    ]  # fmt: skip


if __name__ == "__main__":
    from rich.pretty import pprint

    pprint(run())
