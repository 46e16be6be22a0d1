"""The scheduler on its own: per-agent order, agents concurrent, one working-tree writer, a queue cap."""

from __future__ import annotations

import anyio
import pytest

from agentdock.gitgate.errors import Refused
from agentdock.gitgate.scheduler import QUEUE_RULE, Scheduler
from agentdock.gitgate.stepkind import StepKind

READ, WRITE, NET = [StepKind.READ], [StepKind.WRITE], [StepKind.NETWORK]


async def _hold(
    scheduler: Scheduler,
    agent: str,
    kinds: list[StepKind],
    inside: anyio.Event,
    release: anyio.Event,
    log: list[str],
) -> None:
    async with scheduler.slot(agent, kinds):
        log.append(f"{agent} in")
        inside.set()
        await release.wait()
        log.append(f"{agent} out")


@pytest.mark.anyio
@pytest.mark.parametrize("a_kinds", [READ, WRITE, NET])
async def test_another_agent_reads_while_one_agent_is_held(a_kinds: list[StepKind]) -> None:
    scheduler, log = Scheduler(), []
    inside, release = anyio.Event(), anyio.Event()
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(_hold, scheduler, "a", a_kinds, inside, release, log)
            await inside.wait()
            async with scheduler.slot("b", READ):
                log.append("b ran")
            release.set()
    assert log == ["a in", "b ran", "a out"]


@pytest.mark.anyio
async def test_a_fetch_does_not_hold_up_another_agents_commit_but_two_writers_take_turns() -> None:
    scheduler, log = Scheduler(), []
    fetch_in, fetch_go = anyio.Event(), anyio.Event()
    write_in, write_go = anyio.Event(), anyio.Event()
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(_hold, scheduler, "a", NET, fetch_in, fetch_go, log)
            await fetch_in.wait()
            tg.start_soon(_hold, scheduler, "b", WRITE, write_in, write_go, log)
            await write_in.wait()  # b's commit started while a's fetch is still running

            async def c_writes() -> None:
                async with scheduler.slot("c", WRITE):
                    log.append("c ran")

            tg.start_soon(c_writes)
            await anyio.wait_all_tasks_blocked()
            assert "c ran" not in log  # c's write waits for b's write
            write_go.set()
            fetch_go.set()
    assert log.index("b out") < log.index("c ran")
    assert log[:2] == ["a in", "b in"]


@pytest.mark.anyio
async def test_an_agents_chains_run_in_order_and_the_one_past_the_cap_is_refused_at_once() -> None:
    events: list[tuple[str, str]] = []
    scheduler, log = Scheduler(max_queued=2, observer=lambda e, a: events.append((e, a))), []
    inside, release = anyio.Event(), anyio.Event()
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(_hold, scheduler, "a", READ, inside, release, log)
            await inside.wait()

            async def second() -> None:
                async with scheduler.slot("a", READ):
                    log.append("a second")

            tg.start_soon(second)
            await anyio.wait_all_tasks_blocked()
            assert scheduler.pending("a") == 2 and "a second" not in log
            with pytest.raises(Refused) as refused:
                async with scheduler.slot("a", READ):
                    pytest.fail("ran past the cap")
            assert refused.value.rule == QUEUE_RULE and "2 git commands" in refused.value.reason
            async with scheduler.slot("b", READ):  # another agent is not affected by a's full queue
                log.append("b ran")
            release.set()
    assert log == ["a in", "b ran", "a out", "a second"]
    assert ("refused", "a") in events and scheduler.pending("a") == 0
