"""The fault server on a real socket: the mcp SDK's own client talks to it; cuts are real TCP events."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

pytestmark = pytest.mark.anyio

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "0"},
    },
}
CALL = {
    "jsonrpc": "2.0",
    "id": 2,
    "method": "tools/call",
    "params": {"name": "record", "arguments": {"token": "a"}},
}


async def sdk_echo(server: Any) -> str:
    http = httpx2.AsyncClient(headers={"Authorization": server.auth_header})
    async with http, Client(streamable_http_client(server.url, http_client=http)) as client:
        result = await client.call_tool("echo", {"text": "hello"})
    return str(result.content[0].text)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "faults",
    [
        [],
        [{"kind": "json_response"}],
        [{"kind": "sse_crlf"}, {"kind": "sse_comments"}],
        [{"kind": "sse_cr"}, {"kind": "sse_multiline_data"}],
        [{"kind": "split_bytes"}, {"kind": "sse_bom"}, {"kind": "sse_retry"}],
        [{"kind": "interleave"}],
        [{"kind": "trickle", "chunk_bytes": 3, "delay_ms": 0}],
    ],
    ids=["plain", "json", "crlf+comments", "cr+multiline", "bytes+bom+retry", "interleave", "trickle"],
)
async def test_the_sdk_client_gets_the_right_answer_through_benign_faults(
    start_fault_server: Any, faults: list[dict[str, Any]]
) -> None:
    server = await start_fault_server([{**f, "match": {"method": "tools/call"}} for f in faults])
    with anyio.fail_after(20):
        assert await sdk_echo(server) == "hello"
    call = next(r for r in server.journal.requests if r.rpc_method == "tools/call")
    assert call.faults == [f["kind"] for f in faults] and call.status == 200
    if faults and faults[0]["kind"] == "interleave":
        await server.journal.wait_for(lambda j: len(j.replies) == 1, timeout_s=5)


async def _session(http: httpx.AsyncClient, server: Any, headers: Any) -> str:
    response = await http.post(server.url, json=INIT, headers=headers(server))
    assert response.status_code == 200
    return str(response.headers["mcp-session-id"])


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("refuse", (httpx.ReadError, httpx.RemoteProtocolError)),
        ("close_before_headers", (httpx.RemoteProtocolError,)),
        ("truncated_body", (httpx.RemoteProtocolError,)),
        ("drop_before_response", (httpx.RemoteProtocolError,)),
    ],
)
async def test_cuts_are_real_connection_failures_for_an_http_client(
    start_fault_server: Any, headers: Any, kind: str, error: tuple[type[Exception], ...]
) -> None:
    server = await start_fault_server([{"kind": kind, "match": {"method": "tools/call"}}])
    async with httpx.AsyncClient(timeout=10) as http:
        sid = await _session(http, server, headers)
        with anyio.fail_after(10), pytest.raises(error):
            response = await http.post(server.url, json=CALL, headers=headers(server, sid))
            await response.aread()
    executed = server.journal.executions_of("record")
    assert executed == (0 if kind == "refuse" else 1)


async def test_hang_holds_the_stream_until_the_client_times_out(
    start_fault_server: Any, headers: Any
) -> None:
    server = await start_fault_server([{"kind": "hang", "match": {"method": "tools/call"}}])
    async with httpx.AsyncClient(timeout=httpx.Timeout(10, read=0.3)) as http:
        sid = await _session(http, server, headers)
        with anyio.fail_after(10), pytest.raises(httpx.ReadTimeout):
            async with http.stream("POST", server.url, json=CALL, headers=headers(server, sid)) as response:
                assert response.status_code == 200
                await response.aread()


async def test_connections_are_kept_alive_between_requests(start_fault_server: Any, headers: Any) -> None:
    server = await start_fault_server()
    async with httpx.AsyncClient() as http:
        sid = await _session(http, server, headers)
        for i in range(3):
            ping = {"jsonrpc": "2.0", "id": 10 + i, "method": "ping"}
            response = await http.post(server.url, json=ping, headers=headers(server, sid))
            assert response.status_code == 200
    peers = [r.peer for r in server.journal.requests]
    assert len(peers) == 4 and len(set(peers)) == 1 and peers[0].startswith("127.0.0.1:")


async def test_the_server_refuses_wrong_tokens_on_the_wire(start_fault_server: Any) -> None:
    server = await start_fault_server()
    async with httpx.AsyncClient() as http:
        response = await http.post(server.url, json=INIT, headers={"authorization": "Bearer nope"})
    assert response.status_code == 401
