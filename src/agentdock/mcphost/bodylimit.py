"""Requests with a ceiling: ``431`` for a big head, ``413`` for a big body, ``400`` for a bad length.

:class:`HeadLimitMiddleware` is the outermost layer (before the bearer check: it costs
nothing): a request head (target plus headers) over ``max_header_bytes`` gets ``431``, a
malformed ``Content-Length`` ``400``, a declared body over ``max_body_bytes`` ``413``.
(The connection layer already stops a head that keeps growing without ending.)

:class:`BodyLimitMiddleware` sits behind the bearer check (an unauthenticated caller never
gets a byte buffered).  It reads the whole body before the MCP app sees the request,
stopping at ``max_body_bytes`` (declared in ``Content-Length`` or counted as it streams),
then hands the app the buffered body; later ``receive`` calls (a client disconnect during
a stream) pass through.  The connection layer's read deadline bounds how long that read
may take.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyLimitMiddleware", "HeadLimitMiddleware", "head_size", "plain_response"]


async def plain_response(send: Send, status: int, text: str) -> None:
    """A small ``text/plain`` response that closes the connection."""
    body = (text + "\n").encode("utf-8")
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def head_size(scope: Scope) -> int:
    """The bytes of a request head: request line and ``name: value`` lines."""
    line = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"") + 16
    return line + sum(len(name) + len(value) + 4 for name, value in scope["headers"])


class HeadLimitMiddleware:
    """``431`` over ``max_header_bytes``; ``400``/``413`` on ``Content-Length`` before anything else runs."""

    def __init__(self, app: ASGIApp, *, max_header_bytes: int, max_body_bytes: int) -> None:
        self.app = app
        self.max_header_bytes = max_header_bytes
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if head_size(scope) > self.max_header_bytes:
            await plain_response(send, 431, f"request head over the limit of {self.max_header_bytes} bytes")
            return
        declared = [v for k, v in scope["headers"] if k.lower() == b"content-length"]
        if declared:
            text = declared[0].decode("latin-1").strip()
            if len(declared) > 1 or not text.isdigit():
                await plain_response(send, 400, "malformed Content-Length header")
                return
            if int(text) > self.max_body_bytes:
                await plain_response(send, 413, f"request body over the limit of {self.max_body_bytes} bytes")
                return
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """Buffer each request body up to ``max_body_bytes``; larger bodies get ``413``."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > self.max_body_bytes:
                await plain_response(send, 413, f"request body over the limit of {self.max_body_bytes} bytes")
                return
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
