"""The Streamable HTTP exchange: headers, JSON and SSE answers, status handling."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import httpx
import pytest
import respx

from agentdock.proxy.errors import (
    ResponseTimeout,
    SessionExpired,
    StreamDropped,
    UpstreamProtocolError,
    UpstreamStatus,
    UpstreamUnreachable,
)
from agentdock.proxy.framing import encode_message
from agentdock.proxy.transport import Upstream, encode_header_value

pytestmark = pytest.mark.anyio


URL = "http://s.test/mcp"


@pytest.fixture
def mcp() -> Iterator[respx.MockRouter]:
    """The server's answers as respx routes (``side_effect`` lists play them in order); a request
    no route expects, or a route never called, fails the test."""
    with respx.mock(assert_all_called=True) as router:
        yield router


def sent(route: respx.Route) -> list[httpx.Request]:
    return [call.request for call in route.calls]


async def exchange(message: dict[str, Any], upstream: Upstream | None = None, **kw: Any):
    delivered: list[dict[str, Any]] = []

    async def on_message(m: dict[str, Any]) -> None:
        delivered.append(m)

    key = _key(kw)
    async with httpx.AsyncClient() as client:
        up = upstream or Upstream(client, URL, timeout_s=kw.pop("timeout_s", 5.0), **kw)
        up.client = client
        answer = await up.post(encode_message(message), message, up.headers_for(message, **key), on_message)
    return answer, delivered, up


def _key(kw: dict[str, Any]) -> dict[str, Any]:
    return {"idempotency_key": kw.pop("idempotency_key")} if "idempotency_key" in kw else {}


def req(i: Any, method: str = "tools/call", params: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": i, "method": method, "params": params or {}}


def ok(i: Any, value: Any = None) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": i, "result": value if value is not None else {}}


def sse(*chunks: bytes | str, status: int = 200) -> httpx.Response:
    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk.encode() if isinstance(chunk, str) else chunk

    return httpx.Response(status, headers={"content-type": "text/event-stream"}, content=body())


async def test_initialize_captures_the_session_and_later_requests_carry_it_and_the_version(
    mcp: respx.MockRouter,
) -> None:
    init = req(0, "initialize", {"protocolVersion": "2025-06-18"})
    route = mcp.post(URL).mock(
        side_effect=[
            httpx.Response(
                200, json=ok(0, {"protocolVersion": "2025-06-18"}), headers={"Mcp-Session-Id": "abc"}
            ),
            httpx.Response(200, json=ok(1)),
        ]
    )
    _, _, up = await exchange(init)
    assert up.session_id == "abc"
    up.protocol_version = "2025-06-18"
    await exchange(req(1), upstream=up)
    first, second = sent(route)
    assert first.headers["accept"] == "application/json, text/event-stream"
    assert first.headers["content-type"] == "application/json"
    assert "mcp-session-id" not in first.headers and "mcp-protocol-version" not in first.headers
    assert second.headers["mcp-session-id"] == "abc"
    assert second.headers["mcp-protocol-version"] == "2025-06-18"


async def test_a_2026_request_carries_its_version_method_and_name_headers_and_no_session(
    mcp: respx.MockRouter,
) -> None:
    meta = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    message = req(3, "tools/call", {"name": "caf\u00e9", "arguments": {}, "_meta": meta})
    route = mcp.post(URL).respond(200, json=ok(3))
    async with httpx.AsyncClient() as client:
        up = Upstream(client, URL, timeout_s=5)
        up.session_id = "stale"
        await exchange(message, upstream=up)
    headers = route.calls.last.request.headers
    assert headers["mcp-protocol-version"] == "2026-07-28"
    assert headers["mcp-method"] == "tools/call"
    assert headers["mcp-name"] == encode_header_value("caf\u00e9") == "=?base64?Y2Fmw6k=?="
    assert "mcp-session-id" not in headers


async def test_user_headers_and_the_idempotency_key_are_sent(mcp: respx.MockRouter) -> None:
    route = mcp.post(URL, headers={"authorization": "Bearer t", "idempotency-key": "k-1"}).respond(json=ok(1))
    await exchange(req(1), headers={"Authorization": "Bearer t"}, idempotency_key="k-1")
    assert route.call_count == 1  # only a request carrying both headers matches the route


async def test_every_message_on_an_sse_stream_is_delivered_before_the_response_is_returned(
    mcp: respx.MockRouter,
) -> None:
    progress = {"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progress": 1}}
    sampling = {"jsonrpc": "2.0", "id": 90, "method": "sampling/createMessage", "params": {}}
    mcp.post(URL).mock(
        return_value=sse(
            "id: 1\ndata:\n\n",  # priming event
            f"event: message\ndata: {json.dumps(progress)}\n\n",
            f"data: {json.dumps(sampling)[:10]}",
            f"{json.dumps(sampling)[10:]}\r\n\r\n",
            ": keep-alive\n\n",
            f"data: {json.dumps(ok(7, {'done': True}))}\n\n",
            'data: {"after": "the response is ignored"}\n\n',
        )
    )
    answer, delivered, _ = await exchange(req(7))
    assert answer == ok(7, {"done": True})
    assert delivered == [progress, sampling]


async def test_a_202_answers_a_notification_but_is_a_protocol_error_for_a_request(
    mcp: respx.MockRouter,
) -> None:
    mcp.post(URL).respond(202)
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    answer, _, _ = await exchange(note)
    assert answer is None
    with pytest.raises(UpstreamProtocolError, match="202"):
        await exchange(req(1))


async def test_a_404_for_a_request_with_a_session_means_the_session_expired(mcp: respx.MockRouter) -> None:
    mcp.post(URL, headers={"mcp-session-id": "gone"}).respond(
        404, json={"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "Session not found"}}
    )
    async with httpx.AsyncClient() as client:
        up = Upstream(client, URL, timeout_s=5)
        up.session_id = "gone"
        with pytest.raises(SessionExpired) as info:
            await exchange(req(1), upstream=up)
    assert info.value.session_id == "gone"


async def test_a_json_rpc_error_body_at_an_error_status_is_the_answer_with_the_request_id(
    mcp: respx.MockRouter,
) -> None:
    body = {"jsonrpc": "2.0", "id": None, "error": {"code": -32601, "message": "Method not found"}}
    mcp.post(URL).respond(404, json=body)
    answer, _, _ = await exchange(req("a", "nope"))
    assert answer == {"jsonrpc": "2.0", "id": "a", "error": {"code": -32601, "message": "Method not found"}}


async def test_an_error_status_without_json_rpc_body_raises_with_status_and_retry_after(
    mcp: respx.MockRouter,
) -> None:
    mcp.post(URL).respond(503, text="<html>busy</html>", headers={"Retry-After": "2"})
    with pytest.raises(UpstreamStatus) as info:
        await exchange(req(1))
    assert info.value.status == 503 and info.value.retry_after_s == 2.0
    assert "busy" in info.value.body_excerpt


async def test_a_retry_after_http_date_is_converted_to_seconds(mcp: respx.MockRouter) -> None:
    mcp.post(URL).respond(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:10 GMT"})
    async with httpx.AsyncClient() as client:
        up = Upstream(client, URL, timeout_s=5, wall_clock=lambda: 1445412480.0)
        with pytest.raises(UpstreamStatus) as info:
            await exchange(req(1), upstream=up)
    assert info.value.retry_after_s == 10.0


async def test_a_503_with_a_json_rpc_body_is_still_a_retryable_status(mcp: respx.MockRouter) -> None:
    body = {"jsonrpc": "2.0", "id": None, "error": {"code": -32603, "message": "Too many open sessions"}}
    mcp.post(URL).respond(503, json=body)
    with pytest.raises(UpstreamStatus) as info:
        await exchange(req(1))
    assert info.value.status == 503


async def test_a_refused_connection_is_unreachable_and_a_slow_response_is_a_timeout(
    mcp: respx.MockRouter,
) -> None:
    route = mcp.post(URL).mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(UpstreamUnreachable) as info:
        await exchange(req(1))
    assert info.value.failure == "connect"

    async def never(_: httpx.Request) -> httpx.Response:
        await anyio.sleep_forever()
        raise AssertionError

    route.side_effect = never
    with pytest.raises(ResponseTimeout, match=r"no response within 0\.05 s"):
        await exchange(req(1), timeout_s=0.05)


async def test_a_stream_cut_before_the_response_reports_the_resumption_point(mcp: respx.MockRouter) -> None:
    async def body() -> AsyncIterator[bytes]:
        yield (
            b"id: ev-4\nretry: 30\ndata: "
            + json.dumps({"jsonrpc": "2.0", "method": "notifications/progress"}).encode()
            + b"\n\n"
        )
        raise httpx.ReadError("connection reset")

    mcp.post(URL).respond(200, headers={"content-type": "text/event-stream"}, stream=body())
    with pytest.raises(StreamDropped) as info:
        await exchange(req(1))
    assert info.value.last_event_id == "ev-4" and info.value.retry_ms == 30


async def test_a_stream_that_ends_without_the_response_is_dropped(mcp: respx.MockRouter) -> None:
    mcp.post(URL).mock(return_value=sse(": nothing\n\n"))
    with pytest.raises(StreamDropped, match="ended after 0 event"):
        await exchange(req(1))


@pytest.mark.parametrize(
    ("response", "complaint"),
    [
        (
            httpx.Response(200, text="hello", headers={"content-type": "text/plain"}),
            "unexpected content type",
        ),
        (httpx.Response(200, content=b"{oops", headers={"content-type": "application/json"}), "not JSON"),
        (httpx.Response(200, json=ok(99)), "did not answer"),
    ],
)
async def test_answers_the_transport_does_not_allow_are_protocol_errors(
    mcp: respx.MockRouter, response: httpx.Response, complaint: str
) -> None:
    mcp.post(URL).mock(return_value=response)
    with pytest.raises(UpstreamProtocolError, match=complaint):
        await exchange(req(1))


async def test_the_get_stream_delivers_server_messages_and_405_means_not_offered(
    mcp: respx.MockRouter,
) -> None:
    note = {"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}
    route = mcp.get(URL, headers={"mcp-session-id": "s1", "accept": "text/event-stream"}).mock(
        side_effect=[sse(f"id: 5\ndata: {json.dumps(note)}\n\n"), httpx.Response(405)]
    )
    delivered: list[dict[str, Any]] = []

    async def on_message(m: dict[str, Any]) -> None:
        delivered.append(m)

    async with httpx.AsyncClient() as client:
        up = Upstream(client, URL, timeout_s=5)
        up.session_id = "s1"
        decoder = await up.listen(on_message)
        assert delivered == [note] and decoder.last_event_id == "5"
        with pytest.raises(UpstreamStatus) as info:
            await up.listen(on_message, last_event_id="5")
    assert info.value.status == 405
    first, again = sent(route)
    assert "last-event-id" not in first.headers and again.headers["last-event-id"] == "5"


async def test_resume_sends_last_event_id_and_returns_the_response(mcp: respx.MockRouter) -> None:
    mcp.get(URL, headers={"last-event-id": "8", "mcp-session-id": "s1"}).mock(
        return_value=sse(f"id: 9\ndata: {json.dumps(ok(1, {'v': 1}))}\n\n")
    )
    async with httpx.AsyncClient() as client:
        up = Upstream(client, URL, timeout_s=5)
        up.session_id = "s1"

        async def on_message(_: dict[str, Any]) -> None:
            raise AssertionError

        assert await up.resume("8", 1, on_message) == ok(1, {"v": 1})


async def test_delete_ends_the_session(mcp: respx.MockRouter) -> None:
    route = mcp.delete(URL, headers={"mcp-session-id": "s1"}).respond(200)
    async with httpx.AsyncClient() as client:
        up = Upstream(client, URL, timeout_s=5)
        up.session_id = "s1"
        assert await up.delete_session() == 200
        assert await up.delete_session() is None
    assert route.call_count == 1  # the second call knows the session is gone and sends nothing


async def test_an_undecodable_sse_event_is_skipped_and_the_valid_response_still_counts(
    mcp: respx.MockRouter,
) -> None:
    mcp.post(URL).mock(
        return_value=sse(
            "data: {oops\n\n", 'data: {"no": "jsonrpc"}\n\n', f"data: {json.dumps(ok(1, {'v': 2}))}\n\n"
        )
    )
    answer, delivered, _ = await exchange(req(1))
    assert answer == ok(1, {"v": 2}) and delivered == []


async def test_a_stream_of_only_undecodable_events_is_a_dropped_stream(mcp: respx.MockRouter) -> None:
    mcp.post(URL).mock(return_value=sse("data: {oops\n\n"))
    with pytest.raises(StreamDropped):
        await exchange(req(1))


async def test_a_started_stream_that_goes_silent_is_a_timeout_but_keep_alives_keep_it_open(
    mcp: respx.MockRouter,
) -> None:
    async def silent() -> AsyncIterator[bytes]:
        yield b"id: 3\ndata:\n\n"
        await anyio.sleep_forever()
        yield b""

    async def keepalive() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b": ping\n\n"
            await anyio.sleep(0.02)
        yield f"data: {json.dumps(ok(1))}\n\n".encode()

    stalled = httpx.Response(200, headers={"content-type": "text/event-stream"}, content=silent())
    alive = httpx.Response(200, headers={"content-type": "text/event-stream"}, content=keepalive())
    mcp.post(URL).mock(side_effect=[stalled, alive])
    with pytest.raises(ResponseTimeout, match=r"sent nothing for 0\.1 s"):
        await exchange(req(1), idle_timeout_s=0.1)
    answer, _, _ = await exchange(req(1), idle_timeout_s=0.1)
    assert answer == ok(1)
