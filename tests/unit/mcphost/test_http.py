from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import Context, MCPServer

from agentdock.mcphost import TokenStore
from agentdock.mcphost.http import build_app, caller_agent, idempotency_key, parse_hosts

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
HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


def whoami_server() -> MCPServer[Any]:
    server: MCPServer[Any] = MCPServer("whoami")

    @server.tool()
    def whoami(ctx: Context[Any, Any]) -> str:
        return f"{caller_agent(ctx)} key={idempotency_key(ctx)}"

    return server


@asynccontextmanager
async def running(server: MCPServer[Any], store: TokenStore, **kwargs: Any) -> AsyncIterator[Any]:
    app = build_app(server, store, **kwargs)
    async with server.session_manager.run():
        yield app


@pytest.mark.anyio
async def test_requests_without_or_with_a_wrong_token_get_401_with_a_bearer_challenge(project: Path) -> None:
    store = TokenStore(project)
    store.ensure("claude")
    server = whoami_server()
    async with running(server, store) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as http:
            missing = await http.post("/mcp", json=INIT, headers=HEADERS)
            wrong = await http.post("/mcp", json=INIT, headers={**HEADERS, "authorization": "Bearer nope"})
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith('Bearer realm="agentdock"')
    assert wrong.status_code == 401
    assert 'error="invalid_token"' in wrong.headers["www-authenticate"]


@pytest.mark.anyio
async def test_foreign_host_or_origin_headers_are_refused_before_auth(project: Path) -> None:
    store = TokenStore(project)
    token = store.ensure("claude")
    auth = {**HEADERS, "authorization": f"Bearer {token}"}
    async with running(whoami_server(), store) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://evil.example:8000") as http:
            bad_host = await http.post("/mcp", json=INIT, headers=auth)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as http:
            bad_origin = await http.post("/mcp", json=INIT, headers={**auth, "origin": "http://evil.example"})
        async with httpx.AsyncClient(
            transport=transport, base_url="http://host.docker.internal:8000"
        ) as http:
            docker_host = await http.post("/mcp", json=INIT, headers=auth)
    assert bad_host.status_code == 421
    assert bad_origin.status_code == 403
    assert docker_host.status_code == 200


@pytest.mark.anyio
async def test_each_request_is_attributed_to_its_own_tokens_agent(project: Path) -> None:
    store = TokenStore(project)
    tokens = {agent: store.ensure(agent) for agent in ("claude", "qa")}
    server = whoami_server()
    async with running(server, store, stateless=True, json_response=True) as app:
        for agent, token in tokens.items():
            http = httpx2.AsyncClient(
                transport=httpx2.ASGITransport(app=app),
                headers={"authorization": f"Bearer {token}", "idempotency-key": f"k-{agent}"},
            )
            async with (
                http,
                Client(streamable_http_client("http://localhost/mcp", http_client=http)) as client,
            ):
                result = await client.call_tool("whoami", {})
            assert not result.is_error
            assert result.content[0].text == f"{agent} key=k-{agent}"  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_stdio_identity_comes_from_the_configured_user() -> None:
    server: MCPServer[Any] = MCPServer("stdio")

    @server.tool()
    def whoami(ctx: Context[Any, Any]) -> str:
        return caller_agent(ctx, stdio_user="qa")

    async with Client(server) as client:
        result = await client.call_tool("whoami", {})
    assert result.content[0].text == "qa"  # type: ignore[union-attr]


def test_host_lists_split_commas_and_repeats_and_default_to_loopback() -> None:
    assert parse_hosts(None) == ["127.0.0.1"]
    assert parse_hosts(["127.0.0.1,172.17.0.1", "172.17.0.1", "::1"]) == ["127.0.0.1", "172.17.0.1", "::1"]
    with pytest.raises(ValueError, match="empty host"):
        parse_hosts(["127.0.0.1,"])


def test_bound_sockets_declare_tcp_so_asyncio_disables_nagle_on_connections() -> None:
    import socket

    from agentdock.mcphost.serve import bind_sockets

    sockets = bind_sockets(["127.0.0.1"], 0)
    try:
        # asyncio only sets TCP_NODELAY on accepted sockets whose listener has proto IPPROTO_TCP;
        # without it every response waits for a ~40 ms delayed ACK.
        assert sockets[0].proto == socket.IPPROTO_TCP
        port = sockets[0].getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            conn, _ = sockets[0].accept()
            with conn:
                assert conn.proto == socket.IPPROTO_TCP
    finally:
        for sock in sockets:
            sock.close()
