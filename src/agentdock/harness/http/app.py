"""The fault MCP server as an ASGI app: authenticate, apply the plan, handle, render, play.

The app needs byte-level control that the SDK's server (rightly) hides —
cutting a response before its headers, splitting an SSE event at every byte,
resetting a connection — so it speaks Streamable HTTP itself, over
:class:`~agentdock.harness.http.mcpcore.McpCore` which builds every message from the
``mcp`` SDK's wire types.  Cutting a connection uses the ASGI extension
``agentdock.abort`` that :mod:`agentdock.harness.httpserver` provides; under
another ASGI server the app raises instead, which closes the connection too.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Literal

import anyio

from agentdock.harness.http.exchange import Exchange, Request
from agentdock.harness.http.journal import Journal
from agentdock.harness.http.mcpcore import McpCore
from agentdock.harness.http.model import Plan, PlanRunner
from agentdock.harness.http.render import Abort, Body, End, Hang, Op, Sleep, Start, render

__all__ = ["ABORT_EXTENSION", "FaultServerApp", "InjectedAbort"]

log = logging.getLogger(__name__)

ABORT_EXTENSION = "agentdock.abort"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class InjectedAbort(Exception):
    """Raised to make an ASGI server without the abort extension drop the connection."""


class FaultServerApp:
    """An MCP Streamable HTTP endpoint at ``path`` whose delivery is broken on purpose, per ``plan``."""

    def __init__(
        self,
        plan: Plan,
        *,
        token: str | None,
        path: str = "/mcp",
        default_mode: Literal["sse", "json"] = "sse",
        stateless: bool = False,
        journal: Journal | None = None,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self.plan = plan
        self.runner = PlanRunner(plan)
        self.journal = journal or Journal()
        self.core = McpCore(self.journal, stateless=stateless, sleep=sleep)
        self.path = path
        self.default_mode = default_mode
        self._token = token
        self._sleep = sleep

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        request = await _read_request(scope, receive)
        if request.path.rstrip("/") != self.path.rstrip("/"):
            await self._play(
                [Start(404, (("content-type", "text/plain"),)), Body(b"not found"), End()],
                scope,
                receive,
                send,
            )
            return
        if not self._authorised(request):
            self.journal.record_request(**_fields(request, attempt=0), status=401)
            body = b'{"error": "missing or wrong bearer token"}'
            headers = (
                ("content-type", "application/json"),
                ("www-authenticate", 'Bearer realm="agentdock-faults"'),
            )
            await self._play([Start(401, headers), Body(body), End()], scope, receive, send)
            return

        exchange = Exchange(request)
        attempt = self.runner.attempt_of(request)
        self.runner.apply(exchange, attempt)
        if exchange.mode == "auto":
            exchange.mode = self.default_mode
        client = scope.get("client")
        peer = f"{client[0]}:{client[1]}" if client else None
        record = self.journal.record_request(
            **_fields(request, attempt=attempt), faults=list(exchange.applied), peer=peer
        )
        if exchange.applied:
            log.info(
                "request %s %s attempt %s: faults %s",
                record.seq,
                request.rpc_method,
                attempt,
                exchange.applied,
            )
        if exchange.restart:
            self.core.restart()
        if exchange.expire_session:
            self.core.expire(request.session_id)
        outcome = None
        if exchange.handle:
            outcome = await self.core.handle(request, record)
            record.handled = True
        ops = render(exchange, outcome)
        record.status = next((op.status for op in ops if isinstance(op, Start)), None)
        self.journal.updated()
        await self._play(ops, scope, receive, send)

    def _authorised(self, request: Request) -> bool:
        if self._token is None:
            return True
        given = request.headers.get("authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {self._token}".encode())

    async def _play(self, ops: list[Op], scope: Scope, receive: Receive, send: Send) -> None:
        try:
            for op in ops:
                if isinstance(op, Start):
                    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in op.headers]
                    await send({"type": "http.response.start", "status": op.status, "headers": headers})
                elif isinstance(op, Body):
                    await send({"type": "http.response.body", "body": op.data, "more_body": True})
                elif isinstance(op, Sleep):
                    await self._sleep(op.seconds)
                elif isinstance(op, End):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                elif isinstance(op, Hang):
                    await _hang(op, receive, send)
                elif isinstance(op, Abort):
                    if ABORT_EXTENSION in scope.get("extensions", {}):
                        await send({"type": ABORT_EXTENSION, "rst": op.rst})
                        return
                    raise InjectedAbort("connection cut by an injected fault")
        except OSError as exc:  # the client went away mid-response: nothing left to do
            log.debug("client left during the response: %s", exc)


async def _hang(op: Hang, receive: Receive, send: Send) -> None:
    """Hold the response open until the client disconnects, with optional keep-alive comments."""
    while True:
        with anyio.move_on_after(op.keepalive_s if op.keepalive_s > 0 else float("inf")):
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            continue
        await send({"type": "http.response.body", "body": op.comment, "more_body": True})


async def _read_request(scope: Scope, receive: Receive) -> Request:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", []):
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return Request(scope["method"], scope["path"], headers, b"".join(chunks))


def _fields(request: Request, *, attempt: int) -> dict[str, Any]:
    return {
        "http_method": request.http_method,
        "rpc_method": request.rpc_method,
        "rpc_ids": [m["id"] for m in request.messages if "id" in m],
        "session_id": request.session_id,
        "idempotency_key": request.idempotency_key,
        "protocol_version": request.headers.get("mcp-protocol-version"),
        "attempt": attempt,
    }


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
