"""The scripted model over HTTP: a Starlette app speaking the Messages API, and its server.

Routes:

* ``POST /v1/messages`` — SSE (``stream: true``, as Claude Code asks) or one
  JSON ``Message``; a held reply (a step's ``wait_s``) sends ``message_start``
  at once and a ``ping`` every few seconds until it is due.
* ``POST /v1/messages/count_tokens`` — a rough count (characters / 4).
* anything else — ``{}`` with 200: whatever else Claude Code calls is answered
  harmlessly and recorded (``kind="other"``), so the rehearsal shows it.

Every request must carry one of the run's API keys (``x-api-key`` or
``Authorization: Bearer``); the key names the agent (each agent's container
gets its own).  An unknown key gets the API's 401 ``authentication_error``.

`serve_model` binds the app to each given address on one port (loopback and
the Docker bridge gateway, never 0.0.0.0 unless asked) with uvicorn.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import socket
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from agentdock.rehearsal.errors import RehearsalSetupError
from agentdock.rehearsal.model import Answer, ScriptedModel
from agentdock.rehearsal.wire import PING, api_error, message, sse, stream_events

__all__ = ["MAX_BODY_BYTES", "PING_INTERVAL_S", "ModelServer", "create_app", "serve_model"]

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024 * 1024
PING_INTERVAL_S = 5.0


def _agent_for(request: Request, keys: Mapping[str, str]) -> str | None:
    presented = request.headers.get("x-api-key") or ""
    auth = request.headers.get("authorization") or ""
    if not presented and auth.lower().startswith("bearer "):
        presented = auth[7:].strip()
    for key, agent in keys.items():
        if presented and hmac.compare_digest(presented.encode(), key.encode()):
            return agent
    return None


async def _read_json(request: Request) -> Any:
    size = int(request.headers.get("content-length") or 0)
    if size > MAX_BODY_BYTES:
        raise ValueError(f"body of {size} bytes is over the {MAX_BODY_BYTES} byte limit")
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > MAX_BODY_BYTES:
            raise ValueError(f"body is over the {MAX_BODY_BYTES} byte limit")
        chunks.append(chunk)
    return json.loads(b"".join(chunks) or b"{}")


def _error(status: int, kind: str, text: str) -> JSONResponse:
    return JSONResponse(api_error(kind, text), status_code=status)


async def _stream(answer: Answer, ping_interval_s: float) -> AsyncIterator[bytes]:
    events = iter(stream_events(answer.reply))
    yield sse(next(events))  # message_start
    yield sse(PING)
    if answer.fault is not None:
        await answer.fault()
        yield sse(PING)
    remaining = answer.wait_s
    while remaining > 0:
        pause = min(ping_interval_s, remaining)
        await anyio.sleep(pause)
        remaining -= pause
        yield sse(PING)
    for event in events:
        yield sse(event)


def create_app(
    model: ScriptedModel, keys: Mapping[str, str], *, ping_interval_s: float = PING_INTERVAL_S
) -> Starlette:
    """The ASGI app answering for ``model``; ``keys`` maps each API key to its agent."""

    async def messages(request: Request) -> Response:
        agent = _agent_for(request, keys)
        if agent is None:
            model.record(request.method, request.url.path, None, "refused", note="unknown API key")
            return _error(401, "authentication_error", "invalid x-api-key")
        try:
            body = await _read_json(request)
        except ValueError as exc:
            model.record(request.method, request.url.path, agent, "refused", note=str(exc)[:200])
            return _error(400, "invalid_request_error", f"malformed request: {exc}")
        if not isinstance(body, dict):
            return _error(400, "invalid_request_error", "the body must be a JSON object")
        answer = model.answer(agent, body, request.url.path)
        if body.get("stream"):
            return StreamingResponse(
                _stream(answer, ping_interval_s),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "request-id": answer.reply.id},
            )
        if answer.fault is not None:
            await answer.fault()
        if answer.wait_s > 0:
            await anyio.sleep(answer.wait_s)
        return JSONResponse(message(answer.reply).model_dump(mode="json", exclude_unset=True))

    async def count_tokens(request: Request) -> Response:
        agent = _agent_for(request, keys)
        if agent is None:
            return _error(401, "authentication_error", "invalid x-api-key")
        try:
            body = await _read_json(request)
        except ValueError as exc:
            return _error(400, "invalid_request_error", f"malformed request: {exc}")
        model.record(request.method, request.url.path, agent, "other", note="count_tokens")
        return JSONResponse({"input_tokens": max(1, len(json.dumps(body)) // 4)})

    async def other(request: Request) -> Response:
        agent = _agent_for(request, keys)
        model.record(request.method, request.url.path, agent, "other" if agent else "refused")
        if agent is None:
            return _error(401, "authentication_error", "invalid x-api-key")
        log.info("answered %s %s harmlessly for %s", request.method, request.url.path, agent)
        return JSONResponse({})

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    return Starlette(
        routes=[
            Route("/v1/messages", messages, methods=["POST"]),
            Route("/v1/messages/count_tokens", count_tokens, methods=["POST"]),
            Route("/{rest:path}", other, methods=methods),
        ]
    )


def _bind(hosts: Sequence[str], port: int) -> Iterator[socket.socket]:
    for host in hosts:
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(128)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            raise RehearsalSetupError(f"the scripted model cannot listen on {host}:{port}: {exc}") from exc
        if port == 0:
            port = int(sock.getsockname()[1])
        yield sock


class _Server(uvicorn.Server):
    """uvicorn's server, saying when it has started listening (an event, not a polled flag)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.up = anyio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.up.set()


class ModelServer:
    """A running scripted-model server: ``port`` and the addresses it listens on."""

    def __init__(self, hosts: Sequence[str], port: int) -> None:
        self.hosts = list(hosts)
        self.port = port

    def url(self, host: str | None = None) -> str:
        return f"http://{host or self.hosts[0]}:{self.port}"


@contextlib.asynccontextmanager
async def serve_model(
    app: Starlette, hosts: Sequence[str] = ("127.0.0.1",), port: int = 0
) -> AsyncIterator[ModelServer]:
    """Serve ``app`` on every address in ``hosts`` (one port; 0 picks a free one) until the block exits."""
    if not hosts:
        raise RehearsalSetupError("the scripted model needs at least one address to listen on")
    sockets: list[socket.socket] = []
    try:
        for sock in _bind(hosts, port):
            sockets.append(sock)
    except RehearsalSetupError:
        for sock in sockets:
            sock.close()
        raise
    bound = int(sockets[0].getsockname()[1])
    config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=2)
    server = _Server(config)
    async with anyio.create_task_group() as group:
        group.start_soon(server.serve, sockets)
        with anyio.fail_after(10):
            await server.up.wait()
        try:
            yield ModelServer(hosts, bound)
        finally:
            server.should_exit = True
    for sock in sockets:
        sock.close()
