"""Bounded everywhere a client or an upstream can push data: stdin lines, SSE events and lines,
JSON bodies.  Exceeding a cap answers that request with a JSON-RPC error; the proxy keeps serving."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from agentdock.proxy.config import DEFAULT_MAX_MESSAGE_BYTES, parse_args
from agentdock.proxy.errors import INVALID_REQUEST_CODE, UPSTREAM_PROTOCOL_ERROR_CODE, UpstreamProtocolError
from agentdock.proxy.framing import LineSplitter, OversizedLine, decode_line, top_level_id
from agentdock.proxy.transport import Upstream

CAP = 64 * 1024
URL = "http://mcp.test/mcp"


def test_a_line_over_the_cap_is_reported_once_as_soon_as_it_passes_the_cap_and_the_rest_is_dropped() -> None:
    splitter = LineSplitter(max_line_bytes=100)
    assert splitter.feed(b'{"jsonrpc":"2.0","id":3,"method":"x","params":"' + b"a" * 40) == []
    passed = splitter.feed(b"a" * 100)
    assert len(passed) == 1 and isinstance(passed[0], OversizedLine)
    assert passed[0].head.startswith(b'{"jsonrpc":"2.0","id":3') and passed[0].limit == 100
    for _ in range(1000):  # the endless rest of the line: nothing is kept, nothing is returned
        assert splitter.feed(b"a" * 4096) == []
    assert splitter.feed(b'a"}\n{"next":1}\n') == [b'{"next":1}']


def test_a_complete_line_over_the_cap_in_one_chunk_is_reported_and_its_neighbours_kept() -> None:
    splitter = LineSplitter(max_line_bytes=10)
    lines = splitter.feed(b'{"a":1}\n' + b"x" * 50 + b'\n{"b":2}\n')
    assert lines[0] == b'{"a":1}' and isinstance(lines[1], OversizedLine) and lines[2] == b'{"b":2}'


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b'{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"x":"aaaa', 7),
        (b'{"method":"m","id":"req-1","params":', "req-1"),
        (b'{"params":{"id":5,"arguments":{"id":6}},"id":"outer', None),  # the outer id is cut off
        (b'{"params":{"id":5},"jsonrpc":"2.0","method":"m"', None),  # nested ids are not the request's
        (b'{"a":"x\\"id\\":3","id":true}', None),  # ids are strings or numbers
        (b"[1,2", None),
    ],
)
def test_the_id_of_an_oversized_line_is_read_only_from_the_top_level(head: bytes, expected: object) -> None:
    assert top_level_id(head) == expected


def test_an_oversized_line_decodes_to_an_invalid_request_error_naming_the_limit() -> None:
    decoded = decode_line(OversizedLine(head=b'{"jsonrpc":"2.0","id":9,"method":"x"', size=200, limit=100))
    assert decoded is not None and decoded.error is not None
    assert decoded.error["id"] == 9 and decoded.error["error"]["code"] == INVALID_REQUEST_CODE
    assert "--max-message-bytes" in decoded.error["error"]["message"]


def test_the_cap_is_a_flag_with_a_bounded_default() -> None:
    assert parse_args([URL]).max_message_bytes == DEFAULT_MAX_MESSAGE_BYTES
    assert parse_args([URL, "--max-message-bytes", "4096"]).max_message_bytes == 4096


class Endless(httpx.AsyncByteStream):
    """A response body that never ends on its own; counts what the client pulled."""

    def __init__(self, first: bytes, filler: bytes) -> None:
        self.first, self.filler, self.pulled = first, filler, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.first
        for _ in range(1_000_000):  # bounded for the test's sake: 1e6 chunks is "endless" here
            self.pulled += len(self.filler)
            yield self.filler


def _upstream(handler: Any) -> tuple[httpx.AsyncClient, Upstream]:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return client, Upstream(client, URL, timeout_s=5, max_message_bytes=CAP)


REQUEST = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "t"}}


async def _post(upstream: Upstream) -> Any:
    async def ignore(_: Any) -> None:
        return None

    return await upstream.post(json.dumps(REQUEST).encode(), REQUEST, upstream.headers_for(REQUEST), ignore)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("first", "filler"),
    [
        (b"data: ", b"x" * 4096),
        (b": keep-alive", b"-" * 4096),
        (b"data: a\n", b"data: " + b"b" * 4090 + b"\n"),
    ],
    ids=["endless data line", "endless comment line", "endless multi-line event"],
)
async def test_an_endless_sse_line_or_event_stops_at_the_cap(first: bytes, filler: bytes) -> None:
    body = Endless(first, filler)

    async def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=body)

    client, upstream = _upstream(handler)
    async with client:
        with pytest.raises(UpstreamProtocolError, match="--max-message-bytes"):
            await _post(upstream)
    assert body.pulled <= 2 * CAP + 8192


@pytest.mark.anyio
async def test_a_json_body_over_the_cap_stops_at_the_cap() -> None:
    body = Endless(b'{"jsonrpc":"2.0","id":1,"result":"', b"x" * 4096)

    async def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "application/json"}, stream=body)

    client, upstream = _upstream(handler)
    async with client:
        with pytest.raises(UpstreamProtocolError, match="--max-message-bytes"):
            await _post(upstream)
    assert body.pulled <= CAP + 8192


@pytest.mark.anyio
async def test_the_request_over_the_cap_gets_its_one_error_and_the_next_request_is_served(
    bridge_runner: Any, rpc: Any
) -> None:
    async def handler(req: httpx.Request) -> httpx.Response:
        message = json.loads(req.content)
        if message.get("method") == "tools/call":
            return httpx.Response(
                200, headers={"content-type": "text/event-stream"}, stream=Endless(b"data: ", b"z" * 4096)
            )
        return rpc.json_response(rpc.result(message["id"], {}))

    lines = [rpc.line(rpc.request(1, "tools/call", {"name": "big"})), rpc.line(rpc.request(2, "ping"))]
    harness = await bridge_runner.run(handler, lines, max_message_bytes=CAP)
    big, ping = harness.sink.by_id(1), harness.sink.by_id(2)
    assert len(big) == 1 and big[0]["error"]["code"] == UPSTREAM_PROTOCOL_ERROR_CODE, big
    assert "--max-message-bytes" in big[0]["error"]["message"]
    assert ping == [{"jsonrpc": "2.0", "id": 2, "result": {}}]
    assert len(harness.seen.posts("tools/call")) == 1  # a too-large answer is not fetched again


@pytest.mark.anyio
async def test_an_oversized_stdin_line_gets_its_one_error_and_is_never_sent(
    bridge_runner: Any, rpc: Any
) -> None:
    async def handler(req: httpx.Request) -> httpx.Response:
        message = json.loads(req.content)
        return rpc.json_response(rpc.result(message["id"], {}))

    splitter = LineSplitter(max_line_bytes=4096)
    big = rpc.line(rpc.request(5, "tools/call", {"name": "t", "arguments": {"text": "q" * 10_000}}))
    lines = splitter.feed(big + b"\n" + rpc.line(rpc.request(6, "ping")) + b"\n")
    harness = await bridge_runner.run(handler, lines)
    (error,) = harness.sink.by_id(5)
    assert (
        error["error"]["code"] == INVALID_REQUEST_CODE and "--max-message-bytes" in error["error"]["message"]
    )
    assert harness.sink.by_id(6) == [{"jsonrpc": "2.0", "id": 6, "result": {}}]
    assert harness.seen.posts("tools/call") == []
