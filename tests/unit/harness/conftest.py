"""Drive the fault server's ASGI app in-process — no sockets — and read what it put on the wire."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest

from agentdock.harness.http.app import FaultServerApp
from agentdock.harness.http.model import Plan

ACCEPT = "application/json, text/event-stream"
TOKEN = "unit-token"


def parse_sse(body: bytes) -> list[dict[str, Any]]:
    """A reference SSE parser (WHATWG rules: BOM, CR/LF/CRLF, comments, multi-line data)."""
    text = body.decode("utf-8")
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    events: list[dict[str, Any]] = []
    data: list[str] = []
    fields: dict[str, Any] = {}
    for line in lines:
        if line == "":
            if data:
                events.append({**fields, "data": "\n".join(data)})
            data, fields = [], {}
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            data.append(value)
        elif name in {"id", "event", "retry"}:
            fields[name] = value
    return events


@dataclass
class Played:
    """What the app sent for one request, in order, with the sleeps it asked for."""

    timeline: list[tuple[str, Any]] = field(default_factory=list)

    @property
    def sends(self) -> list[dict[str, Any]]:
        return [m for kind, m in self.timeline if kind == "send"]

    @property
    def sleeps(self) -> list[float]:
        return [s for kind, s in self.timeline if kind == "sleep"]

    @property
    def started(self) -> bool:
        return any(m["type"] == "http.response.start" for m in self.sends)

    @property
    def status(self) -> int | None:
        for m in self.sends:
            if m["type"] == "http.response.start":
                return int(m["status"])
        return None

    @property
    def headers(self) -> dict[str, str]:
        for m in self.sends:
            if m["type"] == "http.response.start":
                return {k.decode(): v.decode() for k, v in m["headers"]}
        return {}

    @property
    def chunks(self) -> list[bytes]:
        return [m["body"] for m in self.sends if m["type"] == "http.response.body" and m["body"]]

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

    @property
    def ended(self) -> bool:
        return any(m["type"] == "http.response.body" and not m.get("more_body") for m in self.sends)

    @property
    def abort(self) -> dict[str, Any] | None:
        return next((m for m in self.sends if m["type"] == "agentdock.abort"), None)

    @property
    def events(self) -> list[dict[str, Any]]:
        return parse_sse(self.body)

    @property
    def messages(self) -> list[Any]:
        """JSON-RPC messages carried by SSE events (raw text for events that are not JSON)."""
        out: list[Any] = []
        for event in self.events:
            try:
                out.append(json.loads(event["data"]))
            except ValueError:
                out.append(event["data"])
        return out

    def json(self) -> Any:
        return json.loads(self.body)


Drive = Callable[..., Awaitable[Played]]


class Harness:
    """A fault server app plus helpers to talk MCP to it without a socket."""

    def __init__(self, plan: Plan, **kwargs: Any) -> None:
        self.timeline_sleeps: list[float] = []
        self._current: Played | None = None
        self.app = FaultServerApp(plan, token=TOKEN, sleep=self._sleep, **kwargs)
        self.session: str | None = None
        self._next_id = 0

    async def _sleep(self, seconds: float) -> None:
        if self._current is not None:
            self._current.timeline.append(("sleep", seconds))

    async def http(
        self,
        method: str = "POST",
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        disconnect_when: Callable[[Played], bool] = lambda p: True,
    ) -> Played:
        played = Played()
        self._current = played
        delivered = False
        gone = anyio.Event()

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            if disconnect_when(played):
                gone.set()
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            played.timeline.append(("send", message))
            if disconnect_when(played):
                gone.set()

        raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
        scope = {
            "type": "http",
            "method": method,
            "path": "/mcp",
            "headers": raw,
            "extensions": {"agentdock.abort": {}},
        }
        with anyio.fail_after(5):
            await self.app(scope, receive, send)
        self._current = None
        return played

    def headers(self, **extra: str) -> dict[str, str]:
        h = {"accept": ACCEPT, "content-type": "application/json", "authorization": f"Bearer {TOKEN}"}
        if self.session:
            h["mcp-session-id"] = self.session
        h.update(extra)
        return h

    async def rpc(self, method: str, params: dict[str, Any] | None = None, **kw: Any) -> Played:
        self._next_id += 1
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": self._next_id, "method": method}
        if params is not None:
            message["params"] = params
        extra = kw.pop("headers", {})
        return await self.http("POST", json.dumps(message).encode(), self.headers(**extra), **kw)

    async def notify(self, method: str) -> Played:
        message = {"jsonrpc": "2.0", "method": method}
        return await self.http("POST", json.dumps(message).encode(), self.headers())

    async def initialize(self, version: str = "2025-06-18") -> Played:
        played = await self.rpc(
            "initialize",
            {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "unit", "version": "0"}},
        )
        self.session = played.headers.get("mcp-session-id")
        await self.notify("notifications/initialized")
        return played

    async def call(self, tool: str = "record", arguments: dict[str, Any] | None = None, **kw: Any) -> Played:
        return await self.rpc("tools/call", {"name": tool, "arguments": arguments or {"token": "t1"}}, **kw)


@pytest.fixture
def harness() -> Callable[..., Harness]:
    """Make a socketless fault server: ``harness([{"kind": ...}], seed=1)``."""

    def make(faults: list[dict[str, Any]] | None = None, seed: int = 0, **kwargs: Any) -> Harness:
        return Harness(Plan.from_dict({"seed": seed, "faults": faults or []}), **kwargs)

    return make


@pytest.fixture
def sse() -> Callable[[bytes], list[dict[str, Any]]]:
    return parse_sse
