"""The TCP fault proxy on real sockets, in front of the real fault server, and its control API."""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx
import pytest

from agentdock.harness.errors import ProxyConfigError
from agentdock.harness.tcp.control import control_server
from agentdock.harness.tcp.proxy import ProxySet
from agentdock.harness.tcp.toxics import parse_toxic_spec

pytestmark = pytest.mark.anyio

PING = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}


async def ping_through(proxy: Any, server: Any, http: httpx.AsyncClient) -> httpx.Response:
    url = f"http://{proxy.listen}/mcp"
    init = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "0"},
        },
    }
    base = {"accept": "application/json, text/event-stream", "authorization": server.auth_header}
    response = await http.post(url, json=init, headers=base)
    response.raise_for_status()
    return await http.post(
        url, json=PING, headers={**base, "mcp-session-id": response.headers["mcp-session-id"]}
    )


async def test_a_clean_proxy_forwards_both_ways(start_fault_server: Any, start_fault_proxy: Any) -> None:
    server = await start_fault_server()
    proxy = await start_fault_proxy(server.port)
    async with httpx.AsyncClient(timeout=10) as http:
        response = await ping_through(proxy, server, http)
    assert response.status_code == 200 and b'"record"' in response.content
    assert proxy.stats["bytes_upstream"] > 0 and proxy.stats["bytes_downstream"] > 0


async def test_slicer_and_latency_still_deliver_every_byte(
    start_fault_server: Any, start_fault_proxy: Any
) -> None:
    server = await start_fault_server()
    toxics = [
        parse_toxic_spec("slicer:average_size_bytes=5,size_variation_bytes=4,stream=downstream"),
        parse_toxic_spec("slicer:average_size_bytes=3,size_variation_bytes=2,stream=upstream"),
        parse_toxic_spec("latency:latency_ms=1,jitter_ms=1"),
    ]
    proxy = await start_fault_proxy(server.port, toxics=toxics, seed=4)
    async with httpx.AsyncClient(timeout=10) as http:
        response = await ping_through(proxy, server, http)
    data = response.content.split(b"data: ", 1)[1]
    assert response.status_code == 200 and len(json.loads(data)["result"]["tools"]) == 6


async def test_reset_peer_on_the_first_connection_only(
    start_fault_server: Any, start_fault_proxy: Any
) -> None:
    server = await start_fault_server()
    proxy = await start_fault_proxy(
        server.port, toxics=[parse_toxic_spec("reset_peer:after_bytes=40,max_connections=1")]
    )
    async with httpx.AsyncClient(timeout=10) as http:
        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
            await ping_through(proxy, server, http)
        response = await ping_through(proxy, server, http)  # a new connection: not affected
    assert response.status_code == 200 and proxy.stats["resets"] == 1


async def test_toxicity_draws_follow_the_seed(start_fault_server: Any, start_fault_proxy: Any) -> None:
    server = await start_fault_server()

    async def pattern(seed: int) -> list[bool]:
        toxic = parse_toxic_spec("reset_peer:after_bytes=0,toxicity=0.5")
        proxy = await start_fault_proxy(server.port, toxics=[toxic], seed=seed)
        out = []
        for _ in range(12):
            async with httpx.AsyncClient(timeout=10) as http:
                try:
                    await http.get(f"http://{proxy.listen}/other")
                    out.append(True)
                except (httpx.ReadError, httpx.RemoteProtocolError):
                    out.append(False)
        return out

    first, again, other = await pattern(1), await pattern(1), await pattern(2)
    assert first == again != other
    assert 0 < sum(first) < 12


async def test_a_toxic_added_at_run_time_hits_a_live_connection(
    start_fault_server: Any, start_fault_proxy: Any
) -> None:
    server = await start_fault_server()
    proxy = await start_fault_proxy(server.port)
    async with httpx.AsyncClient(timeout=10) as http:
        await ping_through(proxy, server, http)
        assert proxy.stats["connections"] == 1
        proxy.add_toxic(parse_toxic_spec("reset_peer:after_bytes=0,stream=upstream"))
        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError)):
            await http.get(f"http://{proxy.listen}/other")
        proxy.remove_toxic("reset_peer_upstream")
        assert (await http.get(f"http://{proxy.listen}/other")).status_code == 404


async def test_timeout_blackholes_then_closes(start_fault_server: Any, start_fault_proxy: Any) -> None:
    server = await start_fault_server()
    proxy = await start_fault_proxy(server.port, toxics=[parse_toxic_spec("timeout:timeout_ms=200")])
    async with httpx.AsyncClient(timeout=10) as http:
        with anyio.fail_after(5), pytest.raises(httpx.RemoteProtocolError):
            await http.get(f"http://{proxy.listen}/other")
    assert proxy.stats["closes"] == 1


async def test_limit_data_cuts_a_response_short(start_fault_server: Any, start_fault_proxy: Any) -> None:
    server = await start_fault_server()
    proxy = await start_fault_proxy(server.port, toxics=[parse_toxic_spec("limit_data:limit_bytes=20")])
    async with httpx.AsyncClient(timeout=10) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get(f"http://{proxy.listen}/other")


async def test_slow_close_and_bandwidth_deliver_everything(
    start_fault_server: Any, start_fault_proxy: Any
) -> None:
    server = await start_fault_server()
    toxics = [parse_toxic_spec("slow_close:delay_ms=10"), parse_toxic_spec("bandwidth:rate_kib_s=4096")]
    proxy = await start_fault_proxy(server.port, toxics=toxics)
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await ping_through(proxy, server, http)).status_code == 200


async def test_disable_refuses_and_drops_connections_and_enable_restores(
    start_fault_server: Any, start_fault_proxy: Any
) -> None:
    server = await start_fault_server()
    proxy = await start_fault_proxy(server.port)
    async with httpx.AsyncClient(timeout=5) as http:
        await ping_through(proxy, server, http)
        await proxy.set_enabled(False)
        with pytest.raises(httpx.ConnectError):
            await http.get(f"http://{proxy.listen}/other")
        await proxy.set_enabled(True)
        assert (await ping_through(proxy, server, http)).status_code == 200


async def test_an_unreachable_upstream_resets_the_client(start_fault_proxy: Any) -> None:
    proxy = await start_fault_proxy(1)  # nothing listens on port 1
    async with httpx.AsyncClient(timeout=5) as http:
        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
            await http.get(f"http://{proxy.listen}/")
    assert proxy.stats["upstream_failures"] == 1


async def test_the_control_api_manages_proxies_and_toxics(start_fault_server: Any) -> None:
    server = await start_fault_server()
    proxies = ProxySet(seed=1)
    try:
        async with control_server(proxies, token="ctl") as ctl:
            auth = {"authorization": "Bearer ctl"}
            async with httpx.AsyncClient(base_url=ctl.url, headers=auth, timeout=10) as api:
                assert (await api.get("/proxies", headers={"authorization": "Bearer no"})).status_code == 401
                spec = {"name": "mcp", "listen": "127.0.0.1:0", "upstream": f"127.0.0.1:{server.port}"}
                created = await api.post("/proxies", json=spec)
                assert created.status_code == 201
                assert (await api.post("/proxies", json=spec)).status_code == 409
                listen = created.json()["listen"]
                toxic = {"type": "reset_peer", "name": "rst", "attributes": {"after_bytes": 0}}
                assert (await api.post("/proxies/mcp/toxics", json=toxic)).status_code == 201
                assert (await api.post("/proxies/mcp/toxics", json={"type": "nope"})).status_code == 400
                async with httpx.AsyncClient(timeout=5) as http:
                    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
                        await http.get(f"http://{listen}/other")
                    changed = await api.post(
                        "/proxies/mcp/toxics/rst", json={"attributes": {"after_bytes": 100000}}
                    )
                    assert changed.json()["attributes"]["after_bytes"] == 100000
                    assert (await http.get(f"http://{listen}/other")).status_code == 404
                    assert (await api.post("/proxies/mcp", json={"enabled": False})).json()[
                        "enabled"
                    ] is False
                    with pytest.raises(httpx.ConnectError):
                        await http.get(f"http://{listen}/other")
                    assert (await api.post("/reset")).status_code == 204
                    listing = (await api.get("/proxies")).json()
                    assert listing["mcp"]["enabled"] is True and listing["mcp"]["toxics"] == []
                    assert (await http.get(f"http://{listen}/other")).status_code == 404
                assert (await api.delete("/proxies/mcp/toxics/none")).status_code == 404
                assert set((await api.get("/toxics")).json()) >= {"latency", "reset_peer", "timeout"}
                assert (await api.delete("/proxies/mcp")).status_code == 204
                assert (await api.get("/proxies/mcp")).status_code == 404
    finally:
        await proxies.close()


async def test_a_taken_listen_address_is_a_config_error(
    start_fault_server: Any, start_fault_proxy: Any
) -> None:
    server = await start_fault_server()
    proxy = await start_fault_proxy(server.port)
    with pytest.raises(ProxyConfigError, match="cannot listen"):
        await _clash(proxy.listen, server.port)


async def _clash(listen: str, port: int) -> None:
    from agentdock.harness.tcp.proxy import FaultProxy

    async with FaultProxy("clash", listen=listen, upstream=f"127.0.0.1:{port}"):
        pass
