"""Serving an MCP server over Streamable HTTP with agentdock's bearer tokens.

Both ``qms-mcp`` and ``git-mcp`` use this module; the names below are a contract.

``build_app(mcp_server, store, *, stateless=False, json_response=False, allowed_hosts=(), path="/mcp")``
    The SDK's ``MCPServer.streamable_http_app`` wrapped in :class:`BearerAuthMiddleware`:
    every HTTP request must carry ``Authorization: Bearer <token>`` that
    ``store.verify`` maps to an agent (else ``401`` with
    ``WWW-Authenticate: Bearer realm="agentdock"``); the Host header (and Origin,
    when present) must name an allowed host (else ``421`` / ``403``: DNS-rebinding
    protection).  Allowed: ``127.0.0.1``, ``localhost``, ``::1``,
    ``host.docker.internal``, every address the server binds, and ``allowed_hosts``.
``build_app(..., max_body_bytes=N, max_header_bytes=H)``
    Before the bearer check a head over ``H`` bytes gets ``431`` and a declared body over
    ``N`` ``413``; behind it, :class:`~agentdock.mcphost.bodylimit.BodyLimitMiddleware`
    answers bodies over ``N`` bytes with ``413`` (serving, binding and the connection caps
    live in :mod:`agentdock.mcphost.serve`).
``build_app(..., session_lifetime_s=S)``
    A session with no request for ``S`` seconds is forgotten (its next request gets ``404``).
``caller_agent(ctx, *, stdio_user=None) -> str``
    Inside a tool handler (``ctx: mcp.server.mcpserver.Context``): the agent the
    request's token belongs to; over stdio (no HTTP request) ``stdio_user``.
    Raises :class:`~agentdock.mcphost.errors.Unauthenticated` when neither exists.
``idempotency_key(ctx) -> str | None``
    The request's ``Idempotency-Key`` header, if any.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send

from agentdock.mcphost.bodylimit import BodyLimitMiddleware, HeadLimitMiddleware
from agentdock.mcphost.errors import Unauthenticated
from agentdock.mcphost.limits import DEFAULT_LIMITS
from agentdock.mcphost.options import DEFAULT_HOST, parse_hosts
from agentdock.mcphost.tokens import TokenStore

__all__ = [
    "AGENT_SCOPE_KEY",
    "DEFAULT_ALLOWED_HOSTS",
    "DEFAULT_HOST",
    "BearerAuthMiddleware",
    "build_app",
    "caller_agent",
    "idempotency_key",
    "parse_hosts",
]

#: Host names every server admits in the Host header (containers use host.docker.internal).
DEFAULT_ALLOWED_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost", "::1", "host.docker.internal")
#: Where the middleware leaves the authenticated agent in the ASGI scope's ``state``.
AGENT_SCOPE_KEY = "agentdock.agent"
_REALM = 'Bearer realm="agentdock"'


def _host_only(value: str) -> str:
    """``"[::1]:8000"`` -> ``"::1"``, ``"localhost:80"`` -> ``"localhost"``, lower-cased."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        return value[1:end] if end > 0 else value
    if value.count(":") == 1:
        return value.split(":", 1)[0]
    return value


class BearerAuthMiddleware:
    """ASGI middleware: Host/Origin allow-list, then a bearer token mapped to an agent."""

    def __init__(self, app: ASGIApp, store: TokenStore, allowed_hosts: Iterable[str]) -> None:
        self.app = app
        self.store = store
        self.allowed = frozenset(_host_only(h) for h in allowed_hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host")
        if not host or _host_only(host) not in self.allowed:
            await _plain(send, 421, f"Invalid Host header {host!r}: not an allowed host for this server")
            return
        origin = headers.get("origin")
        if origin is not None and (_host_only(urlsplit(origin).netloc) not in self.allowed):
            await _plain(send, 403, f"Invalid Origin header {origin!r}: cross-origin requests are refused")
            return
        auth = headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            await _unauthorized(
                send,
                "missing bearer token: send 'Authorization: Bearer <token>' "
                "(get one with `agentdock token <agent> --project-root DIR`)",
                error=None,
            )
            return
        agent = self.store.verify(token.strip())
        if agent is None:
            await _unauthorized(send, "invalid bearer token (unknown or rotated)", error="invalid_token")
            return
        state = scope.setdefault("state", {})
        state[AGENT_SCOPE_KEY] = agent
        await self.app(scope, receive, send)


async def _plain(send: Send, status: int, text: str, extra: Sequence[tuple[bytes, bytes]] = ()) -> None:
    body = text.encode("utf-8")
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": [*headers, *extra]})
    await send({"type": "http.response.body", "body": body})


async def _unauthorized(send: Send, message: str, *, error: str | None) -> None:
    challenge = _REALM if error is None else f'{_REALM}, error="{error}"'
    body = json.dumps({"error": error or "unauthorized", "error_description": message}).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", challenge.encode("latin-1")),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def build_app(
    mcp_server: MCPServer[Any],
    store: TokenStore,
    *,
    stateless: bool = False,
    json_response: bool = False,
    allowed_hosts: Iterable[str] = (),
    path: str = "/mcp",
    max_body_bytes: int = DEFAULT_LIMITS.max_body_bytes,
    max_header_bytes: int = DEFAULT_LIMITS.max_header_bytes,
    session_lifetime_s: float = DEFAULT_LIMITS.session_lifetime_s,
) -> ASGIApp:
    """The server's Streamable HTTP app behind bearer auth and the Host allow-list."""
    hosts = [*DEFAULT_ALLOWED_HOSTS, *allowed_hosts]
    # Host/Origin checks happen in our middleware (before auth, so a rebinding page learns nothing);
    # the SDK still validates Content-Type and body size.
    security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    inner = mcp_server.streamable_http_app(
        streamable_http_path=path,
        json_response=json_response,
        stateless_http=stateless,
        transport_security=security,
        session_idle_timeout=None if stateless else session_lifetime_s,
    )
    authed = BearerAuthMiddleware(BodyLimitMiddleware(inner, max_body_bytes), store, hosts)
    return HeadLimitMiddleware(authed, max_header_bytes=max_header_bytes, max_body_bytes=max_body_bytes)


def caller_agent(ctx: Context[Any, Any], *, stdio_user: str | None = None) -> str:
    """The calling agent: from the bearer token over HTTP, else ``stdio_user``."""
    request = ctx.request_context.request
    scope = getattr(request, "scope", None)
    if isinstance(scope, dict):
        agent = (scope.get("state") or {}).get(AGENT_SCOPE_KEY)
        if isinstance(agent, str) and agent:
            return agent
        raise Unauthenticated("HTTP request without an authenticated agent (serve the app via build_app)")
    if stdio_user:
        return stdio_user
    raise Unauthenticated("no caller identity: over stdio pass --user or set QMS_USER")


def idempotency_key(ctx: Context[Any, Any]) -> str | None:
    """The ``Idempotency-Key`` request header, stripped, or None."""
    headers = ctx.headers
    if headers is None:
        return None
    value = headers.get("idempotency-key")
    if value is None:
        return None
    value = value.strip()
    return value or None
