"""agentdock.proxy: a reliable MCP stdio ⇄ Streamable HTTP bridge.

Modules, one concept each: :mod:`~agentdock.proxy.framing` (stdio lines),
:mod:`~agentdock.proxy.sse` (event-stream decoding),
:mod:`~agentdock.proxy.transport` (Streamable HTTP exchanges),
:mod:`~agentdock.proxy.pool` and :mod:`~agentdock.proxy.sockets` (httpx's keep-alive pool
and, for ``http://``, its socket layer on asyncio's transports),
:mod:`~agentdock.proxy.messages` (message kinds and method classes),
:mod:`~agentdock.proxy.retry` (the retry budget: decision tables, window, probes),
:mod:`~agentdock.proxy.errors` (exceptions and JSON-RPC codes),
:mod:`~agentdock.proxy.session` (session recovery, GET stream),
:mod:`~agentdock.proxy.paramheaders` (2026-07-28 Mcp-Param-* headers),
:mod:`~agentdock.proxy.bridge` (connects them), :mod:`~agentdock.proxy.cli` (entry point).
"""

from agentdock.proxy.bridge import Bridge
from agentdock.proxy.config import ProxyConfig, parse_args
from agentdock.proxy.transport import Upstream

__all__ = ["Bridge", "ProxyConfig", "Upstream", "parse_args"]
