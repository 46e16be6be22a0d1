"""One agent cannot starve the others: a held fetch of agent A does not delay B, and A's flood is refused.

Agent A's ``fetch`` is held inside the remote's upload-pack (a FIFO gate the test opens), so
"slow" is a fact the test controls, not a duration.  Ordering is asserted on completion order.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from agentdock.gitgate.executor import build_env
from agentdock.gitgate.gateway import GateConfig, GitGateway, Outcome
from agentdock.gitgate.runtime import probe_sandbox, run_as_for
from agentdock.gitgate.scheduler import QUEUE_RULE
from agentdock.gitgate.scratch import ScratchRepo, install_fetch_gate, scratch_repository


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[ScratchRepo]:
    with scratch_repository(tmp_path) as scratch:
        problem = probe_sandbox(shutil.which("bwrap"), run_as_for(Path("/")), scratch.env)
        if problem is not None:
            if os.environ.get("CI") == "true":
                pytest.fail(f"CI must run the git sandbox: {problem}")
            pytest.skip(f"no working git sandbox here: {problem}")
        yield scratch


@pytest.mark.anyio
async def test_a_held_fetch_of_one_agent_neither_delays_another_agent_nor_lets_its_flood_in(
    repo: ScratchRepo,
) -> None:
    gate = install_fetch_gate(repo, opened=False)
    gateway = GitGateway(
        GateConfig(root=repo.root, env=build_env(repo.env, repo.root), max_queued_per_agent=2)
    )
    finished: list[str] = []
    outcomes: dict[str, Outcome] = {}

    async def run(name: str, agent: str, command: str) -> None:
        outcomes[name] = await gateway.execute(command, agent)
        finished.append(name)

    try:
        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                tg.start_soon(run, "a-fetch", "claude", "fetch origin")
                while gate.arrivals() == 0:  # A is inside git fetch, held by the remote
                    await anyio.sleep(0.02)
                tg.start_soon(run, "a-queued", "claude", "status --short")
                while gateway.scheduler.pending("claude") < 2:  # A's second chain is waiting its turn
                    await anyio.sleep(0.02)
                await run("a-flood", "claude", "log -1")  # third for A: refused at once
                await run("b-status", "qa", "status")
                await run("b-commit", "qa", "commit --allow-empty -m 'qa keeps working'")
                assert "a-fetch" not in finished and "a-queued" not in finished
                gate.open()
                while not gate.release():
                    await anyio.sleep(0.02)
    finally:
        gate.open()
        gateway.close()
    assert finished[:3] == ["a-flood", "b-status", "b-commit"]
    assert finished[3:] == ["a-fetch", "a-queued"]  # A's own chains in arrival order
    flood = outcomes["a-flood"].refused
    assert flood is not None and flood.rule == QUEUE_RULE and outcomes["a-flood"].result is None
    assert all(outcomes[name].ok for name in ("a-fetch", "a-queued", "b-status", "b-commit")), outcomes
    assert repo.git("log", "-1", "--format=%s").strip() == "qa keeps working"
