"""The bridge: concurrency, exactly-once answers, retries, session recovery, shutdown."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import httpx
import pytest
import respx

from agentdock.proxy.errors import (
    AUTH_REJECTED_CODE,
    DEADLINE_EXCEEDED_CODE,
    INVALID_REQUEST_CODE,
    OUTCOME_UNKNOWN_CODE,
    PARSE_ERROR_CODE,
    PROXY_SHUTDOWN_CODE,
    UPSTREAM_HTTP_ERROR_CODE,
    UPSTREAM_UNREACHABLE_CODE,
)

pytestmark = pytest.mark.anyio


def body_of(request: httpx.Request) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(request.content)
    return value


def answering(rpc: Any, value: Any) -> Callable[[httpx.Request], httpx.Response]:
    """A respx side effect: the JSON-RPC result ``value`` for whatever request arrives."""

    def respond(request: httpx.Request) -> httpx.Response:
        return rpc.json_response(rpc.result(body_of(request)["id"], value))

    return respond


def echo_server(rpc: Any, session: str | None = "s-1"):
    """A well-behaved legacy server: answers every request with {"echo": method}."""

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            return httpx.Response(200)
        if request.method == "GET":
            return httpx.Response(405)
        body = body_of(request)
        if "id" not in body or "method" not in body:
            return httpx.Response(202)
        if body["method"] == "initialize":
            return rpc.json_response(
                rpc.init_result(body["id"]), headers={"Mcp-Session-Id": session} if session else None
            )
        return rpc.json_response(rpc.result(body["id"], {"echo": body["method"]}))

    return handler


async def test_a_slow_tool_call_does_not_block_a_ping(bridge_runner: Any, rpc: Any) -> None:
    ping_answered = anyio.Event()
    order: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        body = body_of(request)
        if body["method"] == "tools/call":
            with anyio.fail_after(5):
                await ping_answered.wait()
            order.append("tools/call")
        else:
            order.append("ping")
            ping_answered.set()
        return rpc.json_response(rpc.result(body["id"], {}))

    h = await bridge_runner.run(
        handler, [rpc.line(rpc.request(1, "tools/call")), rpc.line(rpc.request(2, "ping"))]
    )
    assert order == ["ping", "tools/call"]
    assert [m["id"] for m in h.sink.messages] == [2, 1]


async def test_fifty_concurrent_requests_each_get_exactly_one_answer(bridge_runner: Any, rpc: Any) -> None:
    lines = [rpc.line(rpc.request(i, "tools/call", {"name": "n", "arguments": {"i": i}})) for i in range(50)]
    h = await bridge_runner.run(echo_server(rpc), lines)
    assert sorted(m["id"] for m in h.sink.messages) == list(range(50))


async def test_server_requests_and_notifications_before_the_response_reach_the_client_in_order(
    bridge_runner: Any, rpc: Any
) -> None:
    sampling = rpc.request("srv-1", "sampling/createMessage", {"messages": []})
    progress = {
        "jsonrpc": "2.0",
        "method": "notifications/progress",
        "params": {"progressToken": 1, "progress": 1},
    }

    async def handler(request: httpx.Request) -> httpx.Response:
        body = body_of(request)
        if body.get("id") == "srv-1":
            return httpx.Response(202)  # the client's sampling reply
        return rpc.sse_response(progress, sampling, rpc.result(body["id"], {"ok": True}))

    reply = {
        "jsonrpc": "2.0",
        "id": "srv-1",
        "result": {"role": "assistant", "content": {"type": "text", "text": "x"}},
    }
    h = await bridge_runner.run(handler, [rpc.line(rpc.request(1, "tools/call")), rpc.line(reply)])
    assert h.sink.messages == [progress, sampling, rpc.result(1, {"ok": True})]
    assert reply in h.seen.bodies()  # the client's reply was POSTed back


async def test_an_expired_session_is_reinitialised_and_the_request_replayed(
    bridge_runner: Any, rpc: Any
) -> None:
    sessions = iter(["s-1", "s-2"])
    live = {"current": ""}

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.method in ("GET", "DELETE"):
            return httpx.Response(405)
        body = body_of(request)
        if body.get("method") == "initialize":
            live["current"] = next(sessions)
            return rpc.json_response(rpc.init_result(body["id"]), headers={"Mcp-Session-Id": live["current"]})
        if request.headers.get("mcp-session-id") != live["current"]:
            return httpx.Response(
                404, json={"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "x"}}
            )
        if "id" not in body:
            return httpx.Response(202)
        return rpc.json_response(rpc.result(body["id"], {"session": live["current"]}))

    async def lines(h: Any) -> AsyncIterator[bytes]:
        yield rpc.line(rpc.initialize(0))
        await h.sink.wait_for(lambda ms: len(ms) == 1)
        yield rpc.line(rpc.initialized())
        live["current"] = "forgotten"  # the server restarts and forgets s-1
        yield rpc.line(rpc.request(1, "tools/call", {"name": "t"}))

    h = await bridge_runner.run(handler, lines)
    assert h.sink.messages[-1] == rpc.result(1, {"session": "s-2"})
    inits = h.seen.bodies("initialize")
    assert len(inits) == 2 and inits[1]["params"] == inits[0]["params"]
    assert len(h.seen.bodies("notifications/initialized")) == 2
    assert [m.get("id") for m in h.sink.messages] == [0, 1]  # the client saw nothing of the recovery


async def test_unavailable_server_is_retried_with_backoff_then_answers(bridge_runner: Any, rpc: Any) -> None:
    server = respx.MockRouter()
    server.post(rpc.URL, json__method="ping").mock(side_effect=answering(rpc, {}))
    listing = server.post(rpc.URL, json__method="tools/list").mock(
        side_effect=[httpx.Response(503), httpx.Response(502), answering(rpc, {"ok": 1})]
    )
    h = await bridge_runner.run(server, [rpc.line(rpc.request(1, "tools/list"))])
    assert listing.call_count == 3
    assert h.sink.messages == [rpc.result(1, {"ok": 1})]
    # 503: not taken, retried; 502: may have run, so a ping must be answered before the re-send
    assert [body_of(r)["method"] for r in h.seen.requests] == [
        "tools/list",
        "tools/list",
        "ping",
        "tools/list",
    ]
    assert len(h.sleeps) == 2


async def test_a_keyed_tool_call_is_retried_with_the_same_idempotency_key(
    bridge_runner: Any, rpc: Any
) -> None:
    server = respx.MockRouter()
    server.post(rpc.URL, json__method="ping").mock(side_effect=answering(rpc, {}))
    server.post(rpc.URL, json__method="tools/call").mock(
        side_effect=[httpx.ReadError("connection reset by peer"), answering(rpc, {"ran": True})]
    )
    h = await bridge_runner.run(server, [rpc.line(rpc.request(1, "tools/call", {"name": "mutate"}))])
    calls = h.seen.posts("tools/call")
    keys = [r.headers.get("idempotency-key") for r in calls]
    assert h.sink.messages == [rpc.result(1, {"ran": True})]
    assert len(keys) == 2 and keys[0] and keys[0] == keys[1]
    # the reset may have come after the server took the call: a ping is answered before the re-send
    assert [body_of(r)["method"] for r in h.seen.requests] == ["tools/call", "ping", "tools/call"]


async def test_the_log_has_a_line_for_a_retried_request_but_not_for_a_clean_first_attempt(
    bridge_runner: Any, rpc: Any, caplog: pytest.LogCaptureFixture
) -> None:
    server = respx.MockRouter()
    server.post(rpc.URL, json__method="ping").mock(side_effect=answering(rpc, {}))
    server.post(rpc.URL, json__method="tools/list").mock(
        side_effect=[httpx.Response(503), answering(rpc, {"ok": 1})]
    )
    lines = [rpc.line(rpc.request(1, "ping")), rpc.line(rpc.request(2, "tools/list"))]
    with caplog.at_level("INFO", logger="agentdock.proxy.bridge"):
        await bridge_runner.run(server, lines)
    info = [r.getMessage() for r in caplog.records if r.levelname == "INFO" and " -> " in r.getMessage()]
    assert len(info) == 1, info  # the retried tools/list only, not the ping
    assert info[0].startswith("tools/list id=2 -> ok") and info[0].endswith("(2 attempt(s))")
    caplog.clear()
    with caplog.at_level("DEBUG", logger="agentdock.proxy.bridge"):
        await bridge_runner.run(server, [rpc.line(rpc.request(3, "ping"))])
    assert any(r.getMessage().startswith("ping id=3 -> ok") for r in caplog.records)


async def test_each_tool_call_gets_its_own_idempotency_key(bridge_runner: Any, rpc: Any) -> None:
    h = await bridge_runner.run(echo_server(rpc), [rpc.line(rpc.request(i, "tools/call")) for i in range(3)])
    keys = {r.headers["idempotency-key"] for r in h.seen.requests}
    assert len(keys) == 3


async def test_without_idempotency_keys_a_dropped_tool_call_fails_as_outcome_unknown(
    bridge_runner: Any, rpc: Any
) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.")

    h = await bridge_runner.run(
        handler, [rpc.line(rpc.request(1, "tools/call", {"name": "mutate"}))], idempotency_keys=False
    )
    (answer,) = h.sink.messages
    assert len(h.seen.requests) == 1
    assert "idempotency-key" not in h.seen.requests[0].headers
    assert answer["error"]["code"] == OUTCOME_UNKNOWN_CODE
    assert "outcome unknown" in answer["error"]["message"]
    assert "1 attempt(s)" in answer["error"]["message"]
    assert answer["error"]["data"]["attempts"] == 1 and "elapsed_ms" in answer["error"]["data"]


async def test_a_client_error_is_not_retried_and_its_json_rpc_error_passes_through(
    bridge_runner: Any, rpc: Any
) -> None:
    error = {"jsonrpc": "2.0", "id": None, "error": {"code": -32602, "message": "Invalid params"}}

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json=error)

    h = await bridge_runner.run(handler, [rpc.line(rpc.request(4, "tools/call"))])
    assert h.sink.messages == [
        {"jsonrpc": "2.0", "id": 4, "error": {"code": -32602, "message": "Invalid params"}}
    ]
    assert len(h.seen.requests) == 1


async def test_a_persistent_failure_is_answered_with_status_attempts_and_elapsed(
    bridge_runner: Any, rpc: Any
) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, text="down for maintenance")

    h = await bridge_runner.run(
        handler, [rpc.line(rpc.request(1, "tools/list"))], retries=2, retry_window_s=0.0
    )
    (answer,) = h.sink.messages
    error = answer["error"]
    assert error["code"] == UPSTREAM_HTTP_ERROR_CODE
    assert "HTTP 503" in error["message"] and "3 attempt(s)" in error["message"]
    assert error["data"]["status"] == 503 and error["data"]["attempts"] == 3
    assert error["data"]["body"] == "down for maintenance"


async def test_unauthorized_names_the_credentials_as_the_cause(bridge_runner: Any, rpc: Any) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, headers={"WWW-Authenticate": "Bearer"})

    h = await bridge_runner.run(handler, [rpc.line(rpc.request(1, "tools/list"))])
    (answer,) = h.sink.messages
    assert answer["error"]["code"] == AUTH_REJECTED_CODE and "credentials" in answer["error"]["message"]
    assert len(h.seen.requests) == 1


async def test_without_a_retry_window_an_unreachable_server_is_answered_after_the_retries(
    bridge_runner: Any, rpc: Any
) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused")

    h = await bridge_runner.run(
        handler, [rpc.line(rpc.request(1, "tools/call"))], retries=3, retry_window_s=0.0
    )
    (answer,) = h.sink.messages
    assert answer["error"]["code"] == UPSTREAM_UNREACHABLE_CODE
    assert "4 attempt(s)" in answer["error"]["message"] and "Connection refused" in answer["error"]["message"]
    assert len(h.seen.requests) == 4


async def test_malformed_lines_get_errors_and_the_proxy_keeps_going(bridge_runner: Any, rpc: Any) -> None:
    lines = [b"{broken", b'{"jsonrpc":"2.0","id":9}', b"", rpc.line(rpc.request(1, "ping"))]
    h = await bridge_runner.run(echo_server(rpc), lines)
    codes = [m.get("error", {}).get("code") for m in h.sink.messages]
    assert codes == [PARSE_ERROR_CODE, INVALID_REQUEST_CODE, None]
    assert h.sink.messages[1]["id"] == 9 and h.sink.messages[2]["id"] == 1


async def test_a_batch_is_answered_with_an_array_of_its_responses(bridge_runner: Any, rpc: Any) -> None:
    batch = [
        rpc.request(1, "tools/list"),
        {"jsonrpc": "2.0", "method": "notifications/x"},
        rpc.request(2, "ping"),
        5,
    ]
    h = await bridge_runner.run(echo_server(rpc), [json.dumps(batch).encode()])
    (answers,) = h.sink.messages
    assert isinstance(answers, list)
    by_id = {a["id"]: a for a in answers}
    assert by_id[1] == rpc.result(1, {"echo": "tools/list"}) and by_id[2] == rpc.result(2, {"echo": "ping"})
    assert by_id[None]["error"]["code"] == INVALID_REQUEST_CODE
    assert h.seen.bodies("notifications/x")


async def test_a_duplicate_in_flight_id_is_rejected_without_disturbing_the_first(
    bridge_runner: Any, rpc: Any
) -> None:
    release = anyio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        with anyio.fail_after(5):
            await release.wait()
        return rpc.json_response(rpc.result(body_of(request)["id"], {"first": True}))

    async def lines(h: Any) -> AsyncIterator[bytes]:
        yield rpc.line(rpc.request(1, "tools/call"))
        yield rpc.line(rpc.request(1, "tools/call"))
        await h.sink.wait_for(lambda ms: len(ms) == 1)
        release.set()

    h = await bridge_runner.run(handler, lines)
    assert h.sink.messages[0]["error"]["code"] == INVALID_REQUEST_CODE
    assert h.sink.messages[1] == rpc.result(1, {"first": True})


async def test_cancellation_is_forwarded_and_the_cancelled_request_is_not_answered(
    bridge_runner: Any, rpc: Any
) -> None:
    started = anyio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        body = body_of(request)
        if body.get("method") == "tools/call":
            started.set()
            await anyio.sleep_forever()
        if "id" not in body:
            return httpx.Response(202)
        return rpc.json_response(rpc.result(body["id"], {}))

    async def lines(h: Any) -> AsyncIterator[bytes]:
        yield rpc.line(rpc.request(1, "tools/call"))
        with anyio.fail_after(5):
            await started.wait()
        yield rpc.line({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}})
        yield rpc.line(rpc.request(2, "ping"))

    h = await bridge_runner.run(handler, lines)
    assert [m["id"] for m in h.sink.messages] == [2]
    assert h.seen.bodies("notifications/cancelled")


async def test_a_request_still_unanswered_at_max_time_gets_a_deadline_error(
    bridge_runner: Any, rpc: Any
) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        async def trickle() -> AsyncIterator[bytes]:
            while True:  # a stream that keeps sending keep-alives but never answers
                yield b": keep-alive\n\n"
                await anyio.sleep(0.01)

        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=trickle())

    h = await bridge_runner.run(
        handler, [rpc.line(rpc.request(1, "tools/call"))], max_time_s=0.3, timeout_s=0.1
    )
    (answer,) = h.sink.messages
    assert answer["error"]["code"] == DEADLINE_EXCEEDED_CODE and "--max-time" in answer["error"]["message"]


async def test_on_eof_in_flight_requests_finish_and_the_session_is_deleted(
    bridge_runner: Any, rpc: Any
) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            return httpx.Response(200)
        if request.method == "GET":
            return httpx.Response(405)
        body = body_of(request)
        if body.get("method") == "initialize":
            return rpc.json_response(rpc.init_result(body["id"]), headers={"Mcp-Session-Id": "s-9"})
        if "id" not in body:
            return httpx.Response(202)
        await anyio.sleep(0.05)  # still in flight when stdin closes
        return rpc.json_response(rpc.result(body["id"], {"late": True}))

    async def lines(h: Any) -> AsyncIterator[bytes]:
        yield rpc.line(rpc.initialize(0))
        await h.sink.wait_for(lambda ms: len(ms) == 1)
        yield rpc.line(rpc.initialized())
        yield rpc.line(rpc.request(1, "tools/call"))

    h = await bridge_runner.run(handler, lines)
    assert h.sink.messages[-1] == rpc.result(1, {"late": True})
    deletes = [r for r in h.seen.requests if r.method == "DELETE"]
    assert len(deletes) == 1 and deletes[0].headers["mcp-session-id"] == "s-9"


async def test_requests_unfinished_after_the_grace_period_are_answered_with_a_shutdown_error(
    bridge_runner: Any, rpc: Any
) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        await anyio.sleep_forever()
        raise AssertionError

    h = await bridge_runner.run(handler, [rpc.line(rpc.request(1, "tools/call"))], shutdown_grace_s=0.05)
    (answer,) = h.sink.messages
    assert answer["id"] == 1 and answer["error"]["code"] == PROXY_SHUTDOWN_CODE


async def test_the_get_stream_carries_server_notifications_to_the_client(
    bridge_runner: Any, rpc: Any
) -> None:
    changed = {"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}
    gets = {"n": 0}
    reconnected = anyio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            gets["n"] += 1
            if gets["n"] == 1:
                assert request.headers["mcp-session-id"] == "s-1"
                return rpc.sse_response("id: e1\n\n", changed)
            assert request.headers["last-event-id"] == "e1"  # the reconnect resumes where it left off
            reconnected.set()
            return httpx.Response(405)
        return await echo_server(rpc)(request)

    async def lines(h: Any) -> AsyncIterator[bytes]:
        yield rpc.line(rpc.initialize(0))
        await h.sink.wait_for(lambda ms: len(ms) == 1)
        yield rpc.line(rpc.initialized())
        await h.sink.wait_for(lambda ms: changed in ms)
        with anyio.fail_after(5):
            await reconnected.wait()

    h = await bridge_runner.run(handler, lines)
    assert changed in h.sink.messages and gets["n"] == 2


async def test_a_broken_stdout_ends_the_proxy_cleanly(bridge_runner: Any, rpc: Any) -> None:
    async def lines(h: Any) -> AsyncIterator[bytes]:
        yield rpc.line(rpc.request(1, "ping"))
        await h.sink.wait_for(lambda ms: len(ms) == 1)
        h.sink.broken.set()
        await anyio.sleep_forever()  # stdin stays open; the broken pipe alone must end the run
        yield b""

    h = await bridge_runner.run(echo_server(rpc), lines)
    assert h.sink.messages == [rpc.result(1, {"echo": "ping"})]


async def test_a_16_mib_request_and_result_pass_through_intact(bridge_runner: Any, rpc: Any) -> None:
    payload = "p" * (16 << 20)

    async def handler(request: httpx.Request) -> httpx.Response:
        body = body_of(request)
        assert body["params"]["arguments"]["blob"] == payload
        return rpc.sse_response(rpc.result(body["id"], {"content": [{"type": "text", "text": payload}]}))

    msg = rpc.request(1, "tools/call", {"name": "store", "arguments": {"blob": payload}})
    h = await bridge_runner.run(handler, [rpc.line(msg)])
    assert h.sink.messages[0]["result"]["content"][0]["text"] == payload


async def test_requests_pipelined_behind_initialize_wait_for_its_session(
    bridge_runner: Any, rpc: Any
) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        if request.method in ("GET", "DELETE"):
            return httpx.Response(405)
        body = body_of(request)
        if body.get("method") == "initialize":
            await anyio.sleep(0.05)  # slow enough for the pipelined lines to arrive first
            return rpc.json_response(rpc.init_result(body["id"]), headers={"Mcp-Session-Id": "s-7"})
        if request.headers.get("mcp-session-id") != "s-7":
            return httpx.Response(
                400, json={"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "no session"}}
            )
        if "id" not in body:
            return httpx.Response(202)
        return rpc.json_response(rpc.result(body["id"], {}))

    lines = [rpc.line(rpc.initialize(0)), rpc.line(rpc.initialized())] + [
        rpc.line(rpc.request(i, "tools/call")) for i in range(1, 4)
    ]
    h = await bridge_runner.run(handler, lines)
    assert sorted(m["id"] for m in h.sink.messages) == [0, 1, 2, 3]
    assert all("error" not in m for m in h.sink.messages)
    assert h.seen.requests[1].headers["mcp-session-id"] == "s-7"


async def test_a_stalled_stream_on_a_keyed_tool_call_is_retried_after_the_idle_timeout(
    bridge_runner: Any, rpc: Any
) -> None:
    async def silent() -> AsyncIterator[bytes]:
        yield b": headers sent, then nothing\n\n"
        await anyio.sleep_forever()
        yield b""

    stalled = httpx.Response(200, headers={"content-type": "text/event-stream"}, content=silent())
    server = respx.MockRouter()
    ping = server.post(rpc.URL, json__method="ping").mock(side_effect=answering(rpc, {}))
    server.post(rpc.URL, json__method="tools/call").mock(
        side_effect=[stalled, answering(rpc, {"second": True})]
    )
    h = await bridge_runner.run(
        server, [rpc.line(rpc.request(1, "tools/call", {"name": "t"}))], idle_timeout_s=0.1, timeout_s=5.0
    )
    assert h.sink.messages == [rpc.result(1, {"second": True})]
    keys = [r.headers["idempotency-key"] for r in h.seen.posts("tools/call")]
    assert len(keys) == 2 and keys[0] == keys[1]
    assert ping.call_count == 1  # the stalled stream may have run the call: a ping before the re-send


async def test_a_get_stream_the_server_keeps_refusing_is_given_up(bridge_runner: Any, rpc: Any) -> None:
    gets = {"n": 0}
    gave_up = anyio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            gets["n"] += 1
            if gets["n"] == 3:
                gave_up.set()
            return httpx.Response(400, text="no GET here")
        return await echo_server(rpc)(request)

    async def lines(h: Any) -> AsyncIterator[bytes]:
        yield rpc.line(rpc.initialize(0))
        await h.sink.wait_for(lambda ms: len(ms) == 1)
        yield rpc.line(rpc.initialized())
        with anyio.fail_after(5):
            await gave_up.wait()
        for _ in range(50):  # give a (buggy) fourth attempt every chance to happen
            await anyio.lowlevel.checkpoint()
        yield rpc.line(rpc.request(1, "ping"))
        await h.sink.wait_for(lambda ms: len(ms) == 2)

    h = await bridge_runner.run(handler, lines)
    assert gets["n"] == 3 and h.sink.messages[-1]["id"] == 1


async def test_an_open_listen_stream_does_not_hold_the_exit_for_the_grace_period(
    bridge_runner: Any, rpc: Any
) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.method == "POST" else {}
        if body.get("method") == "subscriptions/listen":
            await anyio.sleep_forever()  # a 2026-07-28 listen stream stays open until cancelled
        return rpc.json_response(rpc.result(body.get("id"), {}))

    lines = [
        rpc.line(rpc.request("listen:0", "subscriptions/listen")),
        rpc.line(rpc.request(1, "tools/list")),
    ]
    with anyio.fail_after(10):  # the grace period is 60 s: only a shutdown that skips the stream ends in time
        h = await bridge_runner.run(handler, lines, shutdown_grace_s=60.0)
    assert h.sink.by_id(1) == [rpc.result(1, {})]
    (listen,) = h.sink.by_id("listen:0")
    assert listen["error"]["code"] == PROXY_SHUTDOWN_CODE
