"""stdio framing: newline-delimited JSON-RPC on stdin and stdout.

* :class:`LineSplitter` cuts a byte stream into lines (``LF`` or ``CRLF``); nothing
  is lost when a chunk ends mid-line.  A line growing past ``max_line_bytes`` is not
  kept: the splitter hands back one :class:`OversizedLine` (its first bytes and size)
  as soon as the cap is passed and drops the rest of it, so an endless line cannot
  grow memory; the lines after it are read as usual.
* :func:`decode_line` turns one line into a :class:`Decoded` value: a message, a
  batch, or the JSON-RPC error the client must be sent for a malformed line (for an
  oversized one: ``invalid request`` carrying the request's id when its first bytes
  name one at the top level, else ``null``).
* :func:`read_lines` yields lines from a binary file object. A pipe or socket (what
  every MCP client hands its stdio server) is read on the event loop: wait until it
  is readable, then one ``read``, which returns what is there without blocking. Any
  other stdin (a regular file, a terminal, ``/dev/null``) is read in a daemon thread,
  so a stdin that never closes cannot keep the process alive at exit. The loop path
  spares each chunk two thread hand-offs (about a tenth of the proxy's CPU per call
  at 32 calls in flight).
* :class:`LineWriter` is the one writer of stdout: messages are serialised in
  submission order, one per line, each flushed, so a slow reader on the other end
  of the pipe never blocks the event loop. A line of at most ``PIPE_BUF`` bytes is
  written on the loop when nothing is queued and the pipe or socket has room now (a
  zero-timeout ``poll``: a pipe that polls writable takes ``PIPE_BUF`` bytes whole, a
  socket far more); anything else goes to a daemon writer thread, in order. A broken
  pipe sets :attr:`LineWriter.closed` and later sends raise :class:`SinkClosed`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import select
import stat
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

import anyio
import anyio.from_thread
import anyio.lowlevel

from agentdock.proxy.errors import INVALID_REQUEST_CODE, PARSE_ERROR_CODE, SinkClosed
from agentdock.proxy.messages import Message, error_response, is_valid_message

__all__ = [
    "DEFAULT_MAX_LINE_BYTES",
    "Decoded",
    "Line",
    "LineSplitter",
    "LineWriter",
    "OversizedLine",
    "decode_line",
    "encode_message",
    "read_lines",
    "top_level_id",
]

log = logging.getLogger(__name__)

_READ_CHUNK = 1 << 16
_SMALL = 1 << 16
#: Default cap on one stdin line (one JSON-RPC message), also ``--max-message-bytes``'s default.
DEFAULT_MAX_LINE_BYTES = 64 << 20
#: How much of an oversized line is kept to find its id and quote it.
_HEAD_BYTES = 4096


@dataclass(frozen=True, slots=True)
class OversizedLine:
    """A line over the cap: its first bytes and how many bytes it had when it was cut off."""

    head: bytes
    size: int
    limit: int


Line = bytes | OversizedLine


class LineSplitter:
    """Accumulates bytes and returns complete lines (without their line end); see the module docstring."""

    def __init__(self, max_line_bytes: int | None = None) -> None:
        self._buffer = bytearray()
        self._max = max_line_bytes
        self._discarding = False  # inside an oversized line: drop bytes up to its newline

    def feed(self, chunk: bytes) -> list[Line]:
        out: list[Line] = []
        if self._discarding:
            end = chunk.find(b"\n")
            if end < 0:
                return out
            self._discarding = False
            chunk = chunk[end + 1 :]
        self._buffer += chunk
        if b"\n" in chunk:
            *lines, rest = self._buffer.split(b"\n")
            self._buffer = bytearray(rest)
            for line in lines:
                content = line[:-1] if line.endswith(b"\r") else line  # the cap is on the content
                if self._max is not None and len(content) > self._max:
                    out.append(OversizedLine(bytes(content[:_HEAD_BYTES]), len(content), self._max))
                else:
                    out.append(bytes(content))
        # a CR at the end may be the first half of the line's CRLF: not content (yet)
        pending = len(self._buffer) - self._buffer.endswith(b"\r")
        if self._max is not None and pending > self._max:
            out.append(OversizedLine(bytes(self._buffer[: min(pending, _HEAD_BYTES)]), pending, self._max))
            self._buffer = bytearray()
            self._discarding = True
        return out

    def close(self) -> list[Line]:
        """The final line, if stdin ended without a newline."""
        rest, self._buffer = bytes(self._buffer), bytearray()
        return [rest] if rest.strip() else []


def top_level_id(head: bytes) -> str | int | None:
    """The ``id`` member of the JSON object that ``head`` starts, if it appears in ``head`` at depth 1."""
    text = head.decode("utf-8", "replace").lstrip()
    if not text.startswith("{"):
        return None
    depth, i, n = 0, 0, len(text)
    expecting_key = False
    while i < n:
        c = text[i]
        if c == '"':
            end = i + 1
            while end < n and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            if end >= n:
                return None
            if depth == 1 and expecting_key:
                key = text[i + 1 : end]
                rest = text[end + 1 :].lstrip()
                if key == "id" and rest.startswith(":"):
                    try:
                        value, _ = json.JSONDecoder().raw_decode(rest[1:].lstrip())
                    except ValueError:
                        return None
                    ok = isinstance(value, str | int) and not isinstance(value, bool)
                    return value if ok else None
                expecting_key = False
            i = end + 1
            continue
        if c in "{[":
            depth += 1
            expecting_key = c == "{" and depth == 1
        elif c in "}]":
            depth -= 1
        elif c == "," and depth == 1:
            expecting_key = True
        i += 1
    return None


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


def decode_line(line: Line) -> Decoded | None:
    """Decode one stdin line; ``None`` for a blank line (ignored)."""
    if isinstance(line, OversizedLine):
        message = (
            f"Invalid Request: message of {line.size}+ bytes is over the proxy's limit of {line.limit} "
            "bytes (--max-message-bytes); it was not sent"
        )
        return Decoded(
            raw=line.head, error=error_response(top_level_id(line.head), INVALID_REQUEST_CODE, message)
        )
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


def _pollable(fd: int) -> bool:
    """Whether ``fd`` is a pipe or a socket: what the event loop can wait on (a regular file it cannot)."""
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


async def _loop_chunks(fd: int) -> AsyncGenerator[bytes]:
    """Chunks of a pipe or socket, read on the event loop until EOF (or a read error, logged)."""
    while True:
        await anyio.wait_readable(fd)
        try:
            chunk = os.read(fd, _READ_CHUNK)  # readable: returns what is there, blocking or not
        except BlockingIOError:  # a non-blocking fd that another reader drained first
            continue
        except OSError as exc:
            log.warning("stdin read failed: %s", exc)
            return
        if not chunk:
            return
        yield chunk


async def _thread_chunks(fd: int) -> AsyncGenerator[bytes]:
    """Chunks of any readable fd, read by a daemon thread (see the module docstring)."""
    send, receive = anyio.create_memory_object_stream[bytes | None](16)
    token = anyio.lowlevel.current_token()

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
    async with receive, send:
        async for chunk in receive:
            if chunk is None:
                return
            yield chunk


async def read_lines(stream: BinaryIO, max_line_bytes: int | None = None) -> AsyncIterator[Line]:
    """Yield lines from ``stream`` until EOF (see the module docstring for where the reads happen)."""
    fd = stream.fileno()
    splitter = LineSplitter(max_line_bytes)
    async with contextlib.aclosing(_loop_chunks(fd) if _pollable(fd) else _thread_chunks(fd)) as chunks:
        async for chunk in chunks:
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
        self._fd = -1
        self._poll: select.poll | None = None
        """Polls stdout for room, when it is a pipe or socket: small lines are then written inline."""
        fd = stream.fileno() if hasattr(stream, "fileno") else None
        if fd is not None and _pollable(fd):
            self._fd = fd
            self._poll = select.poll()
            self._poll.register(fd, select.POLLOUT)

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    async def send(self, message: Any) -> None:
        """Queue ``message`` (a JSON value, or an already-encoded line) for writing."""
        if self._closed.is_set():
            raise SinkClosed("stdout is closed")
        data = message if isinstance(message, bytes) else encode_message(message)
        if self._poll is not None and len(data) < select.PIPE_BUF and self._write_now(data + b"\n"):
            return
        # One write for the common case; no extra copy of a large message (nothing can interleave:
        # this thread is the only producer and the writer thread takes items in order).
        chunks = [data + b"\n"] if len(data) < _SMALL else [data, b"\n"]
        with self._lock:
            self._pending += len(chunks)
            self._idle.clear()
        for chunk in chunks:
            self._queue.put(chunk)

    def _write_now(self, line: bytes) -> bool:
        """Write ``line`` here when nothing is queued and the fd has room; ``False``: queue it instead.

        Called with ``len(line) <= PIPE_BUF``: a pipe polls writable only with a whole free
        buffer page (``PIPE_BUF`` bytes) and a socket with a quarter of its send buffer free,
        so the (blocking) write cannot block. POLLERR/POLLHUP also return at once: the write
        then fails with EPIPE, which closes the sink as on the thread.
        """
        assert self._poll is not None
        with self._lock:
            if self._pending:
                return False  # the thread is behind: keep the order
        if not self._poll.poll(0):
            return False
        try:
            view = memoryview(line)
            while view:
                view = view[os.write(self._fd, view) :]
            self.lines_written += 1
        except OSError as exc:  # BrokenPipeError, ConnectionResetError, ...
            self._client_closed(exc, self.broken.set)
        return True

    def _client_closed(self, exc: Exception, set_broken: Callable[[], None]) -> None:
        """The client closed stdout: drop this and every later message, and say so (``broken``)."""
        log.info("stdout closed by the client (%s); further messages are dropped", exc)
        self._closed.set()
        set_broken()

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
                with contextlib.suppress(anyio.RunFinishedError):
                    self._client_closed(
                        exc, lambda: anyio.from_thread.run_sync(self.broken.set, token=self._token)
                    )
            finally:
                with self._lock:
                    self._pending -= 1
                    if self._pending == 0:
                        self._idle.set()
