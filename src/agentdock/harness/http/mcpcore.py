"""The fault server's MCP handler: sessions, initialize, ping, tools/list, tools/call, idempotency.

Written against the MCP Streamable HTTP transport (revisions 2025-03-26 to
2025-11-25, the ``initialize`` handshake): every message is validated with the
``mcp`` SDK's own wire types (``mcp_types``) and every result is built from
them, so what the fault server says is what a conforming server says — only
its *delivery* is broken, by faults, at the byte level the SDK's server hides.

Tools (all deterministic):

``echo(text)``            returns ``text``
``add(a, b)``             returns ``a + b``
``record(token)``         a side effect: appends to the journal's executions; returns ``recorded <token>``
``big(size_bytes)``       returns that many ``x`` characters
``fail(message)``         a tool failure: ``isError: true`` with ``message``
``sleep(delay_ms)``       waits, then returns ``slept <delay_ms>``

A ``tools/call`` carrying an ``Idempotency-Key`` header that was seen before is
not run again: the stored result is returned (re-addressed to the new request
id).  Idempotency records survive a simulated restart (as on disk).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import mcp_types as mt
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, LATEST_HANDSHAKE_VERSION
from pydantic import ValidationError

from agentdock.harness.http.exchange import Outcome, Request
from agentdock.harness.http.journal import Journal, RequestRecord

__all__ = ["SERVER_NAME", "TOOLS", "McpCore"]

SERVER_NAME = "agentdock-faults"
SESSION_NOT_FOUND = -32001

_OBJ: dict[str, Any] = {"type": "object"}
TOOLS: tuple[mt.Tool, ...] = (
    mt.Tool(name="echo", description="Return the text.", input_schema={**_OBJ, "properties": {"text": {"type": "string"}}, "required": ["text"]}),
    mt.Tool(name="add", description="Add two numbers.", input_schema={**_OBJ, "properties": {"a": {"type": "number"}, "b": {"type": "number"}}, "required": ["a", "b"]}),
    mt.Tool(name="record", description="Record a token (a side effect).", input_schema={**_OBJ, "properties": {"token": {"type": "string"}}, "required": ["token"]}),
    mt.Tool(name="big", description="Return size_bytes characters.", input_schema={**_OBJ, "properties": {"size_bytes": {"type": "integer"}}, "required": ["size_bytes"]}),
    mt.Tool(name="fail", description="Fail with a message.", input_schema={**_OBJ, "properties": {"message": {"type": "string"}}}),
    mt.Tool(name="sleep", description="Wait delay_ms, then answer.", input_schema={**_OBJ, "properties": {"delay_ms": {"type": "integer"}}, "required": ["delay_ms"]}),
)  # fmt: skip


def _dump(model: Any) -> dict[str, Any]:
    data: dict[str, Any] = model.model_dump(by_alias=True, exclude_none=True, mode="json")
    return data


def _error(request_id: Any, code: int, message: str, data: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": request_id, "error": error}


def _result(request_id: Any, result: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


class _ToolError(Exception):
    pass


@dataclass
class _Session:
    protocol_version: str
    initialized: bool = False


class McpCore:
    """Stateful (session ids) or stateless MCP handler, recording into a :class:`Journal`."""

    def __init__(
        self,
        journal: Journal,
        *,
        stateless: bool = False,
        sleep: Callable[[float], Awaitable[None]],
        new_session_id: Callable[[], str] = lambda: secrets.token_hex(16),
    ) -> None:
        self.journal = journal
        self.stateless = stateless
        self._sleep = sleep
        self._new_session_id = new_session_id
        self.sessions: dict[str, _Session] = {}
        self._idempotent: dict[str, dict[str, Any]] = {}

    # -- state faults --------------------------------------------------------------------------

    def restart(self) -> None:
        """Lose every session, as a restarted process would (idempotency records are durable)."""
        self.sessions.clear()

    def expire(self, session_id: str | None) -> None:
        if session_id is not None:
            self.sessions.pop(session_id, None)

    # -- HTTP ----------------------------------------------------------------------------------------

    async def handle(self, request: Request, record: RequestRecord) -> Outcome:
        method = request.http_method.upper()
        if method == "DELETE":
            return self._delete(request)
        if method != "POST":
            # No standalone GET stream is offered: the specification's answer is 405.
            return Outcome(405, [], [("allow", "POST, DELETE")], stream=False)
        return await self._post(request, record)

    def _delete(self, request: Request) -> Outcome:
        sid = request.session_id
        if self.stateless or sid is None:
            return Outcome(405 if self.stateless else 400, [], stream=False)
        if self.sessions.pop(sid, None) is None:
            return Outcome(404, [_error(None, SESSION_NOT_FOUND, "Session not found")], stream=False)
        return Outcome(200, [], stream=False)

    async def _post(self, request: Request, record: RequestRecord) -> Outcome:
        accept = request.headers.get("accept", "")
        if "application/json" not in accept or "text/event-stream" not in accept:
            msg = "Not Acceptable: Accept must list application/json and text/event-stream"
            return Outcome(406, [_error(None, mt.INVALID_REQUEST, msg)], stream=False)
        if not request.headers.get("content-type", "").lower().startswith("application/json"):
            msg = "Unsupported Media Type: Content-Type must be application/json"
            return Outcome(415, [_error(None, mt.INVALID_REQUEST, msg)], stream=False)
        try:
            data = json.loads(request.body)
        except ValueError as exc:
            return Outcome(400, [_error(None, mt.PARSE_ERROR, f"Parse error: {exc}")], stream=False)
        batch = isinstance(data, list)
        try:
            if batch and not data:
                raise ValueError("empty batch")
            items = [mt.jsonrpc_message_adapter.validate_python(m) for m in (data if batch else [data])]
        except (ValidationError, ValueError) as exc:
            msg = f"Invalid Request: not a JSON-RPC 2.0 message ({exc.__class__.__name__})"
            return Outcome(400, [_error(None, mt.INVALID_REQUEST, msg)], stream=False)

        version = request.headers.get("mcp-protocol-version")
        if version is not None and version not in HANDSHAKE_PROTOCOL_VERSIONS:
            msg = f"Unsupported MCP-Protocol-Version {version!r}; supported: {list(HANDSHAKE_PROTOCOL_VERSIONS)}"
            return Outcome(400, [_error(None, mt.INVALID_REQUEST, msg)], stream=False)

        is_init = any(isinstance(m, mt.JSONRPCRequest) and m.method == "initialize" for m in items)
        headers: list[tuple[str, str]] = []
        if is_init:
            if len(items) != 1:
                return Outcome(
                    400, [_error(None, mt.INVALID_REQUEST, "initialize must be sent alone")], stream=False
                )
        elif not self.stateless:
            sid = request.session_id
            if sid is None:
                return Outcome(
                    400,
                    [_error(None, mt.INVALID_REQUEST, "Bad Request: Mcp-Session-Id header required")],
                    stream=False,
                )
            if sid not in self.sessions:
                return Outcome(404, [_error(None, SESSION_NOT_FOUND, "Session not found")], stream=False)

        answers: list[dict[str, Any]] = []
        for item in items:
            if isinstance(item, mt.JSONRPCRequest):
                answers.append(await self._request(item, request, record, headers))
            elif isinstance(item, mt.JSONRPCNotification):
                self._notification(item, request)
            else:  # a response or error to a server-initiated request
                self.journal.record_reply(_dump(item))
        if not answers:
            return Outcome(202, [], headers, stream=False)
        return Outcome(200, answers, headers, batch=batch)

    # -- JSON-RPC --------------------------------------------------------------------------------------

    def _notification(self, note: mt.JSONRPCNotification, request: Request) -> None:
        if note.method == "notifications/initialized" and request.session_id in self.sessions:
            self.sessions[request.session_id].initialized = True

    async def _request(
        self, req: mt.JSONRPCRequest, request: Request, record: RequestRecord, headers: list[tuple[str, str]]
    ) -> dict[str, Any]:
        params = req.params or {}
        if req.method == "initialize":
            asked = params.get("protocolVersion")
            version = asked if asked in HANDSHAKE_PROTOCOL_VERSIONS else LATEST_HANDSHAKE_VERSION
            if not self.stateless:
                sid = self._new_session_id()
                self.sessions[sid] = _Session(version)
                headers.append(("mcp-session-id", sid))
            result = mt.InitializeResult(
                protocol_version=version,
                capabilities=mt.ServerCapabilities(tools=mt.ToolsCapability(list_changed=True)),
                server_info=mt.Implementation(name=SERVER_NAME, version="1"),
                instructions="agentdock fault-injection server: tools echo, add, record, big, fail, sleep.",
            )
            return _result(req.id, _dump(result))
        if req.method == "ping":
            return _result(req.id, {})
        if req.method == "tools/list":
            return _result(req.id, _dump(mt.ListToolsResult(tools=list(TOOLS))))
        if req.method == "tools/call":
            return await self._call(req, request, record)
        return _error(req.id, mt.METHOD_NOT_FOUND, f"Method not found: {req.method}")

    async def _call(self, req: mt.JSONRPCRequest, request: Request, record: RequestRecord) -> dict[str, Any]:
        params = req.params or {}
        name = params.get("name")
        arguments = params.get("arguments") or {}
        if not isinstance(name, str) or not isinstance(arguments, dict):
            return _error(
                req.id, mt.INVALID_PARAMS, "tools/call needs a string 'name' and object 'arguments'"
            )
        key = request.idempotency_key
        if key is not None and key in self._idempotent:
            record.tool_outcome = "deduplicated"
            return _result(req.id, self._idempotent[key])
        if name not in {t.name for t in TOOLS}:
            return _error(req.id, mt.INVALID_PARAMS, f"Unknown tool: {name}")
        try:
            text = await self._run(name, arguments)
            result = mt.CallToolResult(content=[mt.TextContent(type="text", text=text)])
        except _ToolError as exc:
            result = mt.CallToolResult(content=[mt.TextContent(type="text", text=str(exc))], is_error=True)
        self.journal.record_execution(name, arguments, key, request.session_id)
        record.tool_outcome = "executed"
        payload = _dump(result)
        if key is not None:
            self._idempotent[key] = payload
        return _result(req.id, payload)

    async def _run(self, name: str, args: dict[str, Any]) -> str:
        try:
            if name == "echo":
                return str(args["text"])
            if name == "add":
                return str(float(args["a"]) + float(args["b"]))
            if name == "record":
                return f"recorded {args['token']}"
            if name == "big":
                return "x" * int(args["size_bytes"])
            if name == "sleep":
                await self._sleep(int(args["delay_ms"]) / 1000)
                return f"slept {int(args['delay_ms'])}"
            raise _ToolError(str(args.get("message", "failed as asked")))
        except (KeyError, TypeError, ValueError) as exc:
            raise _ToolError(f"bad arguments for {name}: {exc!r}") from exc
