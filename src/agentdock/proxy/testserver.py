"""A real ``mcp`` 2.x MCPServer to exercise the proxy against (tests, benchmarks, by hand).

``python -m agentdock.proxy.testserver [--port P] [--stateless] [--json] [--token T] [--resumable]``
serves ``/mcp`` on 127.0.0.1 and prints ``PORT <n>`` on stdout once it listens.
:func:`running_server` starts it as a subprocess (so a test can kill and
restart it) and yields a :class:`ServerHandle`.

Tools: ``echo``, ``add``, ``route`` (an ``x-mcp-header`` parameter), ``count`` (a side effect: increments a counter and
returns it), ``slow`` (progress notifications), ``sample`` (sampling round
trip), ``ask`` (elicitation round trip), ``big`` (a result of N bytes),
``hang_up`` (closes its SSE stream mid-call so the client must resume with
Last-Event-ID). Resources ``test://static`` and ``test://item/{name}``;
prompt ``greet``.
"""

from __future__ import annotations

import argparse
import contextlib
import hmac
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import count as counter
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.streamable_http import EventCallback, EventMessage, EventStore
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import SamplingMessage, TextContent
from pydantic import BaseModel, Field

__all__ = ["ServerHandle", "build_app", "main", "running_server"]


class Answer(BaseModel):
    name: str


def build_app(*, stateless: bool, json_response: bool, token: str | None, resumable: bool) -> Any:
    """The Starlette app: MCPServer's streamable HTTP app, behind an optional bearer-token check."""
    server = MCPServer("agentdock-testserver")
    calls = counter(1)

    @server.tool()
    def echo(text: str) -> str:
        """Return the text unchanged."""
        return text

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    def count() -> int:
        """Increment the server's call counter (a side effect) and return it."""
        return next(calls)

    @server.tool()
    async def slow(steps: int, ctx: Context, delay_ms: int = 20) -> str:
        """Report progress `steps` times, then finish."""
        for step in range(1, steps + 1):
            await anyio.sleep(delay_ms / 1000)
            await ctx.report_progress(step, steps, f"step {step}")
        return f"done after {steps} steps"

    @server.tool()
    async def sample(prompt: str, ctx: Context) -> str:
        """Ask the client's model (sampling) and return its text."""
        result = await ctx.session.create_message(
            [SamplingMessage(role="user", content=TextContent(type="text", text=prompt))],
            max_tokens=50,
            related_request_id=ctx.request_id,
        )
        content = result.content
        return content.text if isinstance(content, TextContent) else str(content)

    @server.tool()
    async def ask(question: str, ctx: Context) -> str:
        """Ask the user (elicitation) and return what they said."""
        result = await ctx.elicit(question, Answer)
        if result.action == "accept" and result.data is not None:
            return f"hello {result.data.name}"
        return f"no answer ({result.action})"

    @server.tool()
    def route(region: Annotated[str, Field(json_schema_extra={"x-mcp-header": "Region"})]) -> str:
        """A tool with an `x-mcp-header` parameter: 2026-07-28 calls must mirror it as Mcp-Param-Region."""
        return f"routed to {region}"

    @server.tool()
    def big(size: int) -> str:
        """Return a string of `size` bytes."""
        return "x" * size

    @server.tool()
    async def hang_up(ctx: Context) -> str:
        """Close this request's SSE stream mid-call; the answer arrives on the resumed stream."""
        await ctx.report_progress(1, 2, "before hang-up")
        await ctx.close_sse_stream()
        await anyio.sleep(0.2)
        return "answered after resumption"

    @server.resource("test://static")
    def static() -> str:
        """A fixed text resource."""
        return "static resource text"

    @server.resource("test://item/{name}")
    def item(name: str) -> str:
        """A templated resource."""
        return f"item {name}"

    @server.prompt()
    def greet(name: str) -> str:
        """A greeting prompt."""
        return f"Please greet {name} warmly."

    class MemoryEventStore(EventStore):
        def __init__(self) -> None:
            self.events: list[tuple[str, str, Any]] = []

        async def store_event(self, stream_id: str, message: Any) -> str:
            event_id = str(len(self.events) + 1)
            self.events.append((event_id, stream_id, message))
            return event_id

        async def replay_events_after(self, last_event_id: str, send_callback: EventCallback) -> str | None:
            index = next((i for i, (eid, _, _) in enumerate(self.events) if eid == last_event_id), None)
            if index is None:
                return None
            stream_id = self.events[index][1]
            for eid, sid, message in self.events[index + 1 :]:
                if sid == stream_id and message is not None:
                    await send_callback(EventMessage(message, eid))
            return stream_id

    app = server.streamable_http_app(
        json_response=json_response,
        stateless_http=stateless,
        event_store=MemoryEventStore() if resumable else None,
        retry_interval=50 if resumable else None,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    if token is None:
        return app
    expected = f"Bearer {token}".encode()

    async def guarded(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, expected):
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [(b"www-authenticate", b"Bearer")],
                    }
                )
                await send({"type": "http.response.body", "body": b"unauthorized"})
                return
        await app(scope, receive, send)

    return guarded


def main(argv: Sequence[str] | None = None) -> int:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m agentdock.proxy.testserver")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--stateless", action="store_true")
    parser.add_argument("--json", action="store_true", help="JSON responses instead of SSE")
    parser.add_argument("--token", default=None)
    parser.add_argument("--resumable", action="store_true", help="event store + retry interval (resumption)")
    args = parser.parse_args(argv)
    app = build_app(
        stateless=args.stateless, json_response=args.json, token=args.token, resumable=args.resumable
    )
    # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted connections only then; without it a
    # response on a kept-alive connection waits ~40 ms for the client's delayed ACK (Nagle).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=1)
    uvicorn.Server(config).run(sockets=[sock])
    return 0


@dataclass
class ServerHandle:
    """A running test server subprocess; :meth:`kill` and :meth:`start` it again on the same port."""

    stateless: bool = False
    json_response: bool = False
    token: str | None = None
    resumable: bool = False
    port: int = 0
    process: subprocess.Popen[str] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def start(self, timeout_s: float = 30.0) -> None:
        argv = [sys.executable, "-m", "agentdock.proxy.testserver", "--port", str(self.port)]
        argv += ["--stateless"] if self.stateless else []
        argv += ["--json"] if self.json_response else []
        argv += ["--resumable"] if self.resumable else []
        argv += ["--token", self.token] if self.token else []
        env = {
            k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "PYTHONPATH", "VIRTUAL_ENV"}
        }
        env["PYTHONUNBUFFERED"] = "1"
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env)
        assert self.process.stdout is not None
        # The child prints its port as its first line, once the socket is bound.
        line = _readline_within(self.process, timeout_s)
        if not line.startswith("PORT "):
            self.kill()
            raise RuntimeError(f"test server did not start: {line!r}")
        self.port = int(line.split()[1])

    def kill(self) -> None:
        """SIGKILL: the server loses all state (sessions, counters), as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None


def _readline_within(process: subprocess.Popen[str], timeout_s: float) -> str:
    import selectors

    assert process.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(process.stdout, selectors.EVENT_READ)
        if not sel.select(timeout_s):
            return ""
    return process.stdout.readline().strip()


@contextlib.contextmanager
def running_server(
    *, stateless: bool = False, json_response: bool = False, token: str | None = None, resumable: bool = False
) -> Iterator[ServerHandle]:
    handle = ServerHandle(stateless=stateless, json_response=json_response, token=token, resumable=resumable)
    handle.start()
    try:
        yield handle
    finally:
        handle.kill()


if __name__ == "__main__":
    sys.exit(main())
