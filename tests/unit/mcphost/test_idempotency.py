from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from agentdock.mcphost import IdempotencyConflict, IdempotencyStore
from agentdock.mcphost.files import acquire_lock, release_lock
from agentdock.mcphost.idempotency import WAITING_MESSAGE


def test_a_reused_key_returns_the_first_result_without_applying_again(tmp_path: Path) -> None:
    store = IdempotencyStore(tmp_path, "qms")
    calls: list[int] = []

    def apply() -> dict[str, object]:
        calls.append(1)
        return {"n": len(calls)}

    assert store.run("claude", "k1", "create", {"t": "x"}, apply) == ({"n": 1}, False)
    assert IdempotencyStore(tmp_path, "qms").run("claude", "k1", "create", {"t": "x"}, apply) == (
        {"n": 1},
        True,
    )
    assert len(calls) == 1


def test_keys_are_scoped_per_agent_and_absent_keys_always_apply(tmp_path: Path) -> None:
    store = IdempotencyStore(tmp_path, "qms")
    counter = iter(range(100))

    def apply() -> dict[str, object]:
        return {"n": next(counter)}

    assert store.run("claude", "k", "op", {}, apply)[0] == {"n": 0}
    assert store.run("qa", "k", "op", {}, apply)[0] == {"n": 1}
    assert store.run("qa", None, "op", {}, apply)[0] == {"n": 2}
    assert store.run("qa", None, "op", {}, apply)[0] == {"n": 3}


def test_a_key_reused_with_other_arguments_is_a_conflict(tmp_path: Path) -> None:
    store = IdempotencyStore(tmp_path, "qms")
    store.run("claude", "k", "create", {"title": "a"}, lambda: {"ok": True})
    with pytest.raises(IdempotencyConflict, match="different arguments"):
        store.run("claude", "k", "create", {"title": "b"}, lambda: {"ok": True})


def test_malformed_keys_are_refused(tmp_path: Path) -> None:
    with pytest.raises(IdempotencyConflict):
        IdempotencyStore(tmp_path, "qms").run("claude", "bad key", "op", {}, lambda: {})


# -- run_async: servers' in-flight duplicates -------------------------------------------------------


class _WaitSignal(logging.Handler):
    """Sets a thread-safe event when the store logs that a call waits for its key's holder."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.waiting = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == WAITING_MESSAGE:
            self.waiting.set()


@pytest.fixture
def wait_signal() -> Iterator[_WaitSignal]:
    handler = _WaitSignal()
    logger = logging.getLogger("agentdock.mcphost.idempotency")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(old_level)


@pytest.mark.anyio
async def test_a_duplicate_arriving_while_the_first_call_runs_waits_and_gets_its_result(
    tmp_path: Path,
) -> None:
    store = IdempotencyStore(tmp_path, "git")
    started, release = anyio.Event(), anyio.Event()
    applied: list[int] = []
    results: dict[str, tuple[dict[str, object], bool]] = {}

    async def apply() -> dict[str, object]:
        applied.append(1)
        started.set()
        await release.wait()
        return {"commit": len(applied)}

    async def call(name: str) -> None:
        results[name] = await store.run_async("claude", "k1", "git_exec", {"command": "commit"}, apply)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(call, "first")
            await started.wait()
            tg.start_soon(call, "duplicate")
            await anyio.wait_all_tasks_blocked()  # the duplicate is parked on the key's lock
            assert "duplicate" not in results
            release.set()
    assert applied == [1]
    assert results == {"first": ({"commit": 1}, False), "duplicate": ({"commit": 1}, True)}
    assert await store.run_async("claude", "k1", "git_exec", {"command": "commit"}, apply) == (
        {"commit": 1},
        True,
    )


@pytest.mark.anyio
async def test_waiting_for_a_key_held_by_another_process_does_not_block_the_event_loop(
    tmp_path: Path, wait_signal: _WaitSignal
) -> None:
    store = IdempotencyStore(tmp_path, "git")
    probe = store._new_claim("claude", "k1", "git_exec", {})
    holder = acquire_lock(store._lock_path(probe))  # another open file: flock contends like a process
    freed_by_timer: list[bool] = []

    def safety_valve() -> None:  # bounds the test if the loop itself blocks in flock
        freed_by_timer.append(True)
        release_lock(holder)

    safety = threading.Timer(10.0, safety_valve)
    outcome: list[tuple[dict[str, object], bool]] = []

    async def apply() -> dict[str, object]:
        return {"ok": True}

    async def run() -> None:
        outcome.append(await store.run_async("claude", "k1", "git_exec", {}, apply))

    safety.start()
    try:
        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                tg.start_soon(run)
                await anyio.to_thread.run_sync(wait_signal.waiting.wait, 10.0)
                # The call waits in a worker thread while this task still runs on the loop.
                assert wait_signal.waiting.is_set() and not outcome
                assert not freed_by_timer, "the event loop was blocked until the safety timer freed the lock"
                safety.cancel()
                release_lock(holder)
    finally:
        safety.cancel()
    assert outcome == [({"ok": True}, False)]


@pytest.mark.anyio
async def test_a_call_cancelled_after_apply_started_still_records_its_result(tmp_path: Path) -> None:
    store = IdempotencyStore(tmp_path, "git")
    started, release = anyio.Event(), anyio.Event()
    applied: list[int] = []

    async def apply() -> dict[str, object]:
        applied.append(1)
        started.set()
        await release.wait()
        return {"pushed": True}

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(store.run_async, "claude", "k", "git_exec", {"command": "push"}, apply)
            await started.wait()
            tg.cancel_scope.cancel()  # the client dropped its stream
            release.set()
    assert await store.run_async("claude", "k", "git_exec", {"command": "push"}, apply) == (
        {"pushed": True},
        True,
    )
    assert applied == [1]


def test_a_claim_returns_the_record_text_a_caller_commits_itself(tmp_path: Path) -> None:
    store = IdempotencyStore(tmp_path, "qms")
    with store.claim("claude", "k", "qms_create", {"title": "a"}) as claim:
        assert claim.result is None
        claim.path.parent.mkdir(parents=True, exist_ok=True)
        claim.path.write_text(claim.record_text({"id": "SOP-001"}), encoding="utf-8")
        assert claim.reload() == {"id": "SOP-001"}
    assert store.run("claude", "k", "qms_create", {"title": "a"}, lambda: {"id": "other"}) == (
        {"id": "SOP-001"},
        True,
    )
