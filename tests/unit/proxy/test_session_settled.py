"""A request never leaves without the session id while the session is being re-established."""

from __future__ import annotations

import random
from typing import Any

import anyio
import pytest

from agentdock.proxy.retry import Backoff
from agentdock.proxy.session import Pacing, SessionKeeper

pytestmark = pytest.mark.anyio


class SlowReinitUpstream:
    """Answers the re-initialise only when ``release`` is set; records the session id of each post."""

    def __init__(self) -> None:
        self.session_id: str | None = "old"
        self.protocol_version: str | None = "2025-11-25"
        self.release = anyio.Event()
        self.posted: list[tuple[str, str | None]] = []

    def headers_for(self, message: dict[str, Any]) -> dict[str, str]:
        return {"mcp-session-id": self.session_id} if self.session_id else {}

    async def post(
        self, raw: bytes, message: dict[str, Any], headers: dict[str, str], on_message: Any
    ) -> Any:
        self.posted.append((message["method"], headers.get("mcp-session-id")))
        if message["method"] == "initialize":
            await self.release.wait()
            self.session_id = "new"
            return {"jsonrpc": "2.0", "id": message["id"], "result": {"protocolVersion": "2025-11-25"}}
        return None


async def _ignore(_: Any) -> None:
    return None


async def test_settled_waits_for_a_reinitialisation_under_way_and_then_the_new_session_id_is_there() -> None:
    upstream = SlowReinitUpstream()
    pacing = Pacing(
        retries=3, max_time_s=30, window_s=0, clock=anyio.current_time, rng=random.Random(1),
        sleep=anyio.sleep, backoff=Backoff(),
    )  # fmt: skip
    keeper = SessionKeeper(upstream, pacing, _ignore, get_stream=False)  # type: ignore[arg-type]
    keeper.remember_initialize({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}})
    upstream.session_id = "old"
    seen: list[str | None] = []

    async def request() -> None:
        await keeper.settled()
        seen.append(upstream.session_id)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(keeper.recover, "old")
            await anyio.wait_all_tasks_blocked()
            assert upstream.session_id is None, "re-initialising: no session id right now"
            tg.start_soon(request)
            await anyio.wait_all_tasks_blocked()
            assert seen == [], "the request waits instead of going out without a session id"
            upstream.release.set()
    assert seen == ["new"]
    assert ("notifications/initialized", "new") in upstream.posted


async def test_settled_returns_at_once_when_nothing_is_being_recovered() -> None:
    pacing = Pacing(
        retries=3, max_time_s=30, window_s=0, clock=anyio.current_time, rng=random.Random(1),
        sleep=anyio.sleep, backoff=Backoff(),
    )  # fmt: skip
    keeper = SessionKeeper(SlowReinitUpstream(), pacing, _ignore, get_stream=False)  # type: ignore[arg-type]
    with anyio.fail_after(1):
        await keeper.settled()
