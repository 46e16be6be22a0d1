"""The 503-burst front on real loopback sockets (the socket is the point), and the fault translation."""

from __future__ import annotations

import asyncio
import socket

import anyio
import pytest

from agentdock.harness.httpserver import reset_connection
from agentdock.soak.front import BurstFront
from agentdock.soak.launch import parse_mcp_list, toxics_for
from agentdock.soak.profiles import LaunchFaults

pytestmark = pytest.mark.anyio

REQUEST = b"POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"


async def _upstream(seen: list[bytes], *, reset: bool = False) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        body = await reader.readexactly(5)
        seen.append(head + body)
        if reset:
            reset_connection(writer)
            return
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def _ask(port: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(REQUEST)
    await writer.drain()
    try:
        return await reader.read()
    finally:
        writer.close()


async def test_the_burst_connections_get_503_and_never_reach_the_server() -> None:
    seen: list[bytes] = []
    server = await _upstream(seen)
    port = server.sockets[0].getsockname()[1]
    async with (
        server,
        BurstFront(listen_host="127.0.0.1", upstream=("127.0.0.1", port), after=1, burst=2) as front,
    ):
        with anyio.fail_after(10):
            answers = [await _ask(front.port) for _ in range(4)]
    assert [a.split(b"\r\n", 1)[0] for a in answers] == [
        b"HTTP/1.1 200 OK",
        b"HTTP/1.1 503 Service Unavailable",
        b"HTTP/1.1 503 Service Unavailable",
        b"HTTP/1.1 200 OK",
    ]
    assert len(seen) == 2
    assert seen[0].endswith(b"hello")
    assert front.stats["answered_503"] == 2
    assert front.stats["connections"] == 4


async def test_a_reset_upstream_is_passed_on_to_the_client_as_a_reset() -> None:
    seen: list[bytes] = []
    server = await _upstream(seen, reset=True)
    port = server.sockets[0].getsockname()[1]
    async with (
        server,
        BurstFront(listen_host="127.0.0.1", upstream=("127.0.0.1", port), after=0, burst=0) as front,
    ):
        with anyio.fail_after(10), pytest.raises(ConnectionResetError):
            await _ask(front.port)
    assert len(seen) == 1


async def test_an_unreachable_upstream_resets_the_client_connection_as_a_refused_port_would() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    async with BurstFront(
        listen_host="127.0.0.1", upstream=("127.0.0.1", dead_port), after=0, burst=0
    ) as front:
        with anyio.fail_after(10), pytest.raises(ConnectionResetError):
            await _ask(front.port)
    assert front.stats["upstream_failures"] == 1


async def _keepalive_upstream(seen: list[bytes], session: bytes = b"abc-123") -> asyncio.Server:
    """Answers every request on a connection (keep-alive), handing out an Mcp-Session-Id."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                seen.append(head + await reader.readexactly(5))
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nMcp-Session-Id: " + session
                    + b"\r\nContent-Length: 2\r\n\r\nok"
                )  # fmt: skip
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    writer.write(REQUEST)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    return head + await reader.readexactly(2)


async def _ask_once(port: int) -> bytes:
    """One request on a new connection; the response head and up to its first bytes of body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(REQUEST)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        return head + await reader.read(64)
    finally:
        writer.close()


async def test_session_ids_the_server_hands_out_are_seen_and_a_burst_closes_live_connections() -> None:
    seen: list[bytes] = []
    server = await _keepalive_upstream(seen)
    port = server.sockets[0].getsockname()[1]
    async with (
        server,
        BurstFront(listen_host="127.0.0.1", upstream=("127.0.0.1", port), after=0, burst=0) as front,
    ):
        with anyio.fail_after(10):
            reader, writer = await asyncio.open_connection("127.0.0.1", front.port)
            assert (await _exchange(reader, writer)).endswith(b"ok")
            assert front.session_ids == ["abc-123"]
            front.arm_burst(2)
            assert await reader.read() == b""  # the live keep-alive connection was closed (FIN, no reset)
            writer.close()
            answers = [await _ask_once(front.port) for _ in range(3)]
    assert [a.split(b"\r\n", 1)[0] for a in answers] == [
        b"HTTP/1.1 503 Service Unavailable",
        b"HTTP/1.1 503 Service Unavailable",
        b"HTTP/1.1 200 OK",
    ]
    assert len(seen) == 2  # the first exchange and the last: no 503'd request reached the server


async def test_reset_all_resets_every_live_connection() -> None:
    seen: list[bytes] = []
    server = await _keepalive_upstream(seen)
    port = server.sockets[0].getsockname()[1]
    async with (
        server,
        BurstFront(listen_host="127.0.0.1", upstream=("127.0.0.1", port), after=0, burst=0) as front,
    ):
        with anyio.fail_after(10):
            reader, writer = await asyncio.open_connection("127.0.0.1", front.port)
            await _exchange(reader, writer)
            front.reset_all()
            with pytest.raises(ConnectionResetError):
                await _exchange(reader, writer)
            writer.close()
    assert front.stats["resets_injected"] == 1


async def test_a_partition_holds_bytes_and_new_connections_then_lets_them_all_through() -> None:
    seen: list[bytes] = []
    server = await _keepalive_upstream(seen)
    port = server.sockets[0].getsockname()[1]
    async with (
        server,
        BurstFront(listen_host="127.0.0.1", upstream=("127.0.0.1", port), after=0, burst=0) as front,
    ):
        reader, writer = await asyncio.open_connection("127.0.0.1", front.port)
        await _exchange(reader, writer)
        front.partition(0.5)
        assert front.partitioned
        live = asyncio.ensure_future(_exchange(reader, writer))
        fresh = asyncio.ensure_future(_ask_once(front.port))
        await asyncio.sleep(0.2)
        assert not live.done() and not fresh.done() and len(seen) == 1  # nothing passed yet
        with anyio.fail_after(10):
            assert (await live).endswith(b"ok")
            assert (await fresh).endswith(b"ok")
        writer.close()
    assert not front.partitioned and len(seen) == 3


def test_no_faults_means_no_toxics() -> None:
    assert toxics_for(LaunchFaults()) == []


def test_flaky_faults_become_latency_and_resets_on_both_directions() -> None:
    faults = LaunchFaults(latency_ms=20, jitter_ms=5, reset_probability=0.2, reset_after_bytes=100)
    toxics = {t.name: t.to_dict() for t in toxics_for(faults)}
    assert toxics["latency"]["attributes"] == {"latency_ms": 20, "jitter_ms": 5}
    assert toxics["reset_upstream"]["stream"] == "upstream"
    assert toxics["reset_downstream"]["stream"] == "downstream"
    assert toxics["reset_upstream"]["toxicity"] == pytest.approx(0.1)
    assert toxics["reset_downstream"]["attributes"]["after_bytes"] == 100


def test_claude_mcp_list_output_is_read_per_server() -> None:
    output = (
        "Checking MCP server health…\n\n"
        "qms: python3 /proxy/mcp_proxy.py http://host.docker.internal:1/mcp - ✓ Connected\n"
        "git: http://host.docker.internal:2/mcp (HTTP) - ✘ Failed to connect — ECONNREFUSED\n"
    )
    verdict = parse_mcp_list(output)
    assert verdict["qms"] is None
    assert verdict["git"] is not None and "Failed to connect" in verdict["git"]
    assert parse_mcp_list("Checking MCP server health…\n")["qms"] == "qms: not listed"


def test_bearer_tokens_are_redacted_from_what_a_launch_records() -> None:
    from types import SimpleNamespace

    from agentdock.soak.launch import RealLaunch

    step = RealLaunch(SimpleNamespace(tokens={"claude": "adk_secret1", "qa": "adk_secret2"}), run_id="r")  # type: ignore[arg-type]
    line = "qms: python3 /proxy/mcp_proxy.py URL --header Authorization=Bearer adk_secret2 - ✘ Failed"
    assert (
        step.redact(line)
        == "qms: python3 /proxy/mcp_proxy.py URL --header Authorization=Bearer <token> - ✘ Failed"
    )
