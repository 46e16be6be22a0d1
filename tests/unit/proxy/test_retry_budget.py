"""The bridge's retry budget: outages ridden out within --retry-window, ambiguous failures bounded by --retries.

Time is fake (the bridge's clock moves only when it sleeps), so a 30-second
window costs nothing; the handler reads that clock to script an outage.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from agentdock.proxy.errors import UPSTREAM_HTTP_ERROR_CODE, UPSTREAM_UNREACHABLE_CODE

pytestmark = pytest.mark.anyio


def body_of(request: httpx.Request) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(request.content)
    return value


def methods(h: Any) -> list[str]:
    return [body_of(r)["method"] for r in h.seen.requests if r.method == "POST"]


async def test_a_server_restart_during_a_tool_call_is_ridden_out_with_three_retries(
    bridge_runner: Any, rpc: Any
) -> None:
    outage = {"from": None}

    async def handler(request: httpx.Request) -> httpx.Response:
        body = body_of(request)
        now = bridge_runner.slept
        if outage["from"] is None and body["method"] == "tools/call":
            outage["from"] = now  # the server dies while the call is in flight
            raise httpx.ReadError("connection reset by peer")
        if outage["from"] is not None and now < outage["from"] + 6.0:
            raise httpx.ConnectError("Connection refused")
        return rpc.json_response(rpc.result(body["id"], {"ran": body["method"]}))

    h = await bridge_runner.run(
        handler, [rpc.line(rpc.request(1, "tools/call", {"name": "mutate"}))], retries=3
    )
    assert h.sink.messages == [rpc.result(1, {"ran": "tools/call"})]
    calls = h.seen.posts("tools/call")
    assert len(calls) == 2, "sent once more, after the server answered a ping, not during the outage"
    assert calls[0].headers["idempotency-key"] == calls[1].headers["idempotency-key"]
    assert methods(h).count("ping") > 4 and bridge_runner.slept >= 6.0


async def test_a_burst_of_503_longer_than_the_retries_is_ridden_out(bridge_runner: Any, rpc: Any) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        if bridge_runner.slept < 10.0:
            return httpx.Response(503, text="restarting")
        return rpc.json_response(rpc.result(body_of(request)["id"], {"ok": True}))

    h = await bridge_runner.run(handler, [rpc.line(rpc.request(1, "tools/list"))], retries=3)
    assert h.sink.messages == [rpc.result(1, {"ok": True})]
    assert len(h.seen.requests) > 4 and "ping" not in methods(h)  # a 503 was never taken: no probe needed


async def test_a_server_down_past_the_window_gets_an_error_naming_status_attempts_elapsed_and_window(
    bridge_runner: Any, rpc: Any
) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, text="down for maintenance")

    h = await bridge_runner.run(
        handler, [rpc.line(rpc.request(1, "tools/list"))], retries=3, retry_window_s=5.0
    )
    (answer,) = h.sink.messages
    error = answer["error"]
    attempts = len(h.seen.requests)
    assert error["code"] == UPSTREAM_HTTP_ERROR_CODE and attempts > 4
    assert "HTTP 503" in error["message"] and f"{attempts} attempt(s)" in error["message"]
    assert "end of the 5 s retry window" in error["message"]
    assert error["data"]["attempts"] == attempts and error["data"]["waits"] == attempts - 1
    assert 4.0 <= error["data"]["elapsed_ms"] / 1000 <= 6.0


async def test_a_call_whose_server_never_comes_back_fails_after_the_window_not_by_resending(
    bridge_runner: Any, rpc: Any
) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        if body_of(request)["method"] == "tools/call":
            raise httpx.ReadError("connection reset by peer")
        raise httpx.ConnectError("Connection refused")

    h = await bridge_runner.run(
        handler, [rpc.line(rpc.request(1, "tools/call"))], retries=3, retry_window_s=8.0
    )
    (answer,) = h.sink.messages
    assert answer["error"]["code"] == UPSTREAM_UNREACHABLE_CODE
    assert (
        "8 s retry window" in answer["error"]["message"]
        and "Connection refused" in answer["error"]["message"]
    )
    assert len(h.seen.posts("tools/call")) == 1 and answer["error"]["data"]["probes"] > 3


async def test_zero_retries_fails_fast_without_waiting_or_probing(bridge_runner: Any, rpc: Any) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused")

    h = await bridge_runner.run(handler, [rpc.line(rpc.request(1, "tools/list"))], retries=0)
    (answer,) = h.sink.messages
    assert (
        answer["error"]["code"] == UPSTREAM_UNREACHABLE_CODE and "--retries 0" in answer["error"]["message"]
    )
    assert len(h.seen.requests) == 1 and h.sleeps == []
