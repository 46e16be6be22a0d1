"""stdio framing: newline-delimited JSON-RPC on stdin and stdout.

* :class:`LineSplitter` cuts a byte stream into lines of any length (``LF`` or
  ``CRLF``); nothing is lost when a chunk ends mid-line.
* :func:`decode_line` turns one line into a :class:`Decoded` value: a message, a
  batch, or the JSON-RPC error the client must be sent for a malformed line.
* :func:`read_lines` yields lines from a binary file object. The blocking reads
  happen in a daemon thread, so a stdin that never closes cannot keep the
  process alive at exit.
* :class:`LineWriter` is the one writer of stdout: messages are serialised in
  submission order, one per line, each flushed, by a daemon thread, so a slow
  reader on the other end of the pipe never blocks the event loop. A broken
  pipe sets :attr:`LineWriter.closed` and later sends raise :class:`SinkClosed`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import anyio
import anyio.from_thread
import anyio.lowlevel

from agentdock.proxy.errors import INVALID_REQUEST_CODE, PARSE_ERROR_CODE, SinkClosed
from agentdock.proxy.messages import Message, error_response, is_valid_message

__all__ = ["Decoded", "LineSplitter", "LineWriter", "decode_line", "encode_message", "read_lines"]

log = logging.getLogger(__name__)

_READ_CHUNK = 1 << 16
_SMALL = 1 << 16


class LineSplitter:
    """Accumulates bytes and returns complete lines (without their line end)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> list[bytes]:
        self._buffer += chunk
        if b"\n" not in chunk:
            return []
        *lines, rest = self._buffer.split(b"\n")
        self._buffer = bytearray(rest)
        return [bytes(line[:-1]) if line.endswith(b"\r") else bytes(line) for line in lines]

    def close(self) -> list[bytes]:
        """The final line, if stdin ended without a newline."""
        rest, self._buffer = bytes(self._buffer), bytearray()
        return [rest] if rest.strip() else []


@dataclass(frozen=True, slots=True)
class Decoded:
    """One stdin line, decoded.

    Exactly one of ``message`` (a single JSON-RPC object), ``batch`` (a JSON
    array of them) or ``error`` (the error response to send back) is set;
    ``raw`` is the line itself, forwarded verbatim when possible.
    """

    raw: bytes
    message: Message | None = None
    batch: list[Any] | None = None
    error: Message | None = None


def decode_line(line: bytes) -> Decoded | None:
    """Decode one stdin line; ``None`` for a blank line (ignored)."""
    stripped = line.strip()
    if not stripped:
        return None
    try:
        value = json.loads(stripped)
    except (ValueError, RecursionError) as exc:
        excerpt = stripped[:120].decode("utf-8", "replace")
        return Decoded(
            raw=stripped,
            error=error_response(None, PARSE_ERROR_CODE, f"Parse error: {exc}", {"line": excerpt}),
        )
    if isinstance(value, list):
        if not value:
            return Decoded(raw=stripped, error=error_response(None, INVALID_REQUEST_CODE, "empty batch"))
        return Decoded(raw=stripped, batch=value)
    if not is_valid_message(value):
        msg_id = value.get("id") if isinstance(value, dict) else None
        if not isinstance(msg_id, str | int) or isinstance(msg_id, bool):
            msg_id = None
        return Decoded(
            raw=stripped,
            error=error_response(msg_id, INVALID_REQUEST_CODE, "Invalid Request: not a JSON-RPC 2.0 message"),
        )
    return Decoded(raw=stripped, message=value)


def encode_message(message: Any) -> bytes:
    """One compact JSON line (no trailing newline); JSON escapes any newline inside strings."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


async def read_lines(stream: BinaryIO) -> AsyncIterator[bytes]:
    """Yield lines from ``stream`` until EOF, reading in a daemon thread."""
    send, receive = anyio.create_memory_object_stream[bytes | None](16)
    token = anyio.lowlevel.current_token()
    fd = stream.fileno()

    def pump() -> None:
        try:
            while True:
                try:
                    chunk = os.read(fd, _READ_CHUNK)
                except OSError as exc:
                    log.warning("stdin read failed: %s", exc)
                    chunk = b""
                anyio.from_thread.run(send.send, chunk or None, token=token)
                if not chunk:
                    return
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, anyio.RunFinishedError):
            return
        finally:
            with contextlib.suppress(anyio.RunFinishedError):
                anyio.from_thread.run_sync(send.close, token=token)

    threading.Thread(target=pump, name="mcp-proxy-stdin", daemon=True).start()
    splitter = LineSplitter()
    async with receive, send:
        async for chunk in receive:
            if chunk is None:
                break
            for line in splitter.feed(chunk):
                yield line
    for line in splitter.close():
        yield line


class LineWriter:
    """Writes one JSON-RPC message per line to a binary stream, in order, flushed each time."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._closed = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._pending = 0
        self._lock = threading.Lock()
        self._token = anyio.lowlevel.current_token()
        self.broken = anyio.Event()
        """Set when the client closed its end of stdout (must be created inside the event loop)."""
        self._thread = threading.Thread(target=self._run, name="mcp-proxy-stdout", daemon=True)
        self._thread.start()
        self.lines_written = 0

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    async def send(self, message: Any) -> None:
        """Queue ``message`` (a JSON value, or an already-encoded line) for writing."""
        if self._closed.is_set():
            raise SinkClosed("stdout is closed")
        data = message if isinstance(message, bytes) else encode_message(message)
        # One write for the common case; no extra copy of a large message (nothing can interleave:
        # this thread is the only producer and the writer thread takes items in order).
        chunks = [data + b"\n"] if len(data) < _SMALL else [data, b"\n"]
        with self._lock:
            self._pending += len(chunks)
            self._idle.clear()
        for chunk in chunks:
            self._queue.put(chunk)

    async def drain(self, timeout_s: float) -> bool:
        """Wait (bounded) until everything queued so far is written; ``False`` on timeout or broken pipe."""
        with anyio.move_on_after(timeout_s):
            while not self._idle.is_set() and not self._closed.is_set():
                await anyio.to_thread.run_sync(self._idle.wait, 0.05)
        return self._idle.is_set() and not self._closed.is_set()

    def close(self) -> None:
        self._queue.put(None)

    def _run(self) -> None:
        while True:
            data = self._queue.get()
            if data is None:
                return
            try:
                if not self._closed.is_set():
                    view = memoryview(data)
                    while view:  # a raw (unbuffered) stream may write only part
                        written = self._stream.write(view)
                        view = view[written or 0 :]
                    self._stream.flush()
                    self.lines_written += data.endswith(b"\n")
            except (BrokenPipeError, ConnectionResetError, ValueError, OSError) as exc:
                log.info("stdout closed by the client (%s); further messages are dropped", exc)
                self._closed.set()
                with contextlib.suppress(anyio.RunFinishedError):
                    anyio.from_thread.run_sync(self.broken.set, token=self._token)
            finally:
                with self._lock:
                    self._pending -= 1
                    if self._pending == 0:
                        self._idle.set()
