"""What follows the response on an SSE stream: read in the background, so the answer is not held and the
connection can be kept alive; messages there still reach the client; a stream left open is cut off."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest

from agentdock.proxy.transport import FINISH_S

pytestmark = pytest.mark.anyio


def event(message: Any) -> bytes:
    return f"data: {json.dumps(message)}\n\n".encode()


async def test_a_message_after_the_response_on_its_stream_reaches_the_client_after_the_answer(
    bridge_runner: Any, rpc: Any
) -> None:
    note = {"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info", "data": "after"}}

    async def handler(request: httpx.Request) -> httpx.Response:
        async def stream() -> AsyncIterator[bytes]:
            yield event(rpc.result(1, {"ok": True}))
            await anyio.lowlevel.checkpoint()
            yield event(note)

        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=stream())

    async def lines(h: Any) -> AsyncIterator[bytes]:
        yield rpc.line(rpc.request(1, "tools/list"))
        await h.sink.wait_for(lambda ms: len(ms) == 2)

    h = await bridge_runner.run(handler, lines)
    assert h.sink.messages == [rpc.result(1, {"ok": True}), note]


async def test_an_answered_stream_the_server_keeps_open_is_closed_without_holding_the_answer(
    bridge_runner: Any, rpc: Any
) -> None:
    closed = anyio.Event()
    open_when_answered: list[bool] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        async def stream() -> AsyncIterator[bytes]:
            try:
                yield event(rpc.result(1, {"ok": True}))
                await anyio.sleep_forever()
                yield b""
            finally:
                closed.set()

        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=stream())

    async def lines(h: Any) -> AsyncIterator[bytes]:
        yield rpc.line(rpc.request(1, "tools/list"))
        await h.sink.wait_for(lambda ms: len(ms) == 1)
        open_when_answered.append(not closed.is_set())
        with anyio.fail_after(FINISH_S + 5):
            await closed.wait()

    h = await bridge_runner.run(handler, lines)
    assert h.sink.messages == [rpc.result(1, {"ok": True})]
    assert open_when_answered == [True]
