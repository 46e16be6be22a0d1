"""An incremental Server-Sent Events decoder (the WHATWG ``text/event-stream`` rules).

Feed it bytes as they arrive — chunks may split a line, a CRLF pair, or a
multi-byte UTF-8 character anywhere — and it returns the events completed so
far. It implements the whole interpretation algorithm: ``LF``, ``CR`` and
``CRLF`` line ends, a leading byte-order mark, comment lines (``:``), fields
without a colon, one optional space after the colon, multi-line ``data``
(joined with ``\\n``), ``event``, ``id`` (ignored when it contains NUL, and
sticky across events), ``retry`` (digits only), and dispatch on a blank line.
An event with no data is not dispatched, but its ``id`` still becomes the last
event id — that is how MCP servers send "priming" events for resumption.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

__all__ = ["SSEDecoder", "SSEEvent", "SSEEventTooLarge"]


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One dispatched event."""

    data: str
    event: str = "message"
    id: str | None = None
    retry_ms: int | None = None


class SSEEventTooLarge(ValueError):
    """A single event grew past the decoder's ``max_event_bytes``."""


class SSEDecoder:
    """Turns a byte stream into :class:`SSEEvent` values; see the module docstring.

    ``last_event_id`` and ``retry_ms`` expose the stream's resumption state
    (what a reconnecting client sends as ``Last-Event-ID`` and how long it
    waits first).
    """

    def __init__(self, *, max_event_bytes: int | None = None) -> None:
        self._max = max_event_bytes
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pieces: list[str] = []  # an incomplete line carried over from earlier chunks
        self._pieces_size = 0
        self._after_cr = False  # the previous chunk ended in CR: a leading LF belongs to it
        self._started = False  # the BOM check happens once, on the first characters
        self._data: list[str] = []
        self._data_size = 0
        self._event = ""
        self.last_event_id: str | None = None
        self.retry_ms: int | None = None

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Decode ``chunk`` and return the events it completed, in order."""
        return self._feed_text(self._decoder.decode(chunk))

    def close(self) -> list[SSEEvent]:
        """Flush at end of stream. Per the standard, an event without its terminating blank line is dropped."""
        self._feed_text(self._decoder.decode(b"", final=True))
        self._pieces, self._pieces_size = [], 0
        self._reset_event()
        return []

    def _feed_text(self, text: str) -> list[SSEEvent]:
        if not text:
            return []
        if not self._started:
            self._started = True
            text = text.removeprefix("\ufeff")
        if self._after_cr and text.startswith("\n"):
            text = text[1:]
        self._after_cr = False
        if "\n" not in text and "\r" not in text:
            # No line end: keep the piece; joining now would copy a long line once per chunk.
            self._pieces.append(text)
            self._pieces_size += len(text)
            self._check_size(self._pieces_size)
            return []
        events: list[SSEEvent] = []
        if self._pieces:
            self._pieces.append(text)
            buffer = "".join(self._pieces)
            self._pieces, self._pieces_size = [], 0
        else:
            buffer = text
        start = 0
        length = len(buffer)
        while start < length:
            cr = buffer.find("\r", start)
            lf = buffer.find("\n", start)
            if cr < 0 and lf < 0:
                break
            if cr < 0 or (0 <= lf < cr):
                end, nxt = lf, lf + 1
            elif cr + 1 < length:
                end, nxt = cr, cr + 2 if buffer[cr + 1] == "\n" else cr + 1
            else:  # CR is the last character: the LF, if any, is in the next chunk
                end, nxt = cr, cr + 1
                self._after_cr = True
            event = self._line(buffer[start:end])
            if event is not None:
                events.append(event)
            start = nxt
        rest = buffer[start:]
        self._pieces = [rest] if rest else []
        self._pieces_size = len(rest)
        self._check_size(self._pieces_size)
        return events

    def _check_size(self, pending: int) -> None:
        if self._max is not None and pending + self._data_size > self._max:
            raise SSEEventTooLarge(f"SSE event larger than {self._max} bytes")

    def _line(self, line: str) -> SSEEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None  # comment (keep-alive)
        colon = line.find(":")
        if colon < 0:
            name, value = line, ""
        else:
            name = line[:colon]
            # One slice, not partition-then-strip: a multi-megabyte data line is copied once.
            value = line[colon + 2 :] if line.startswith(" ", colon + 1) else line[colon + 1 :]
        if name == "data":
            self._data.append(value)
            self._data_size += len(value) + 1
            if self._max is not None and self._data_size > self._max:
                raise SSEEventTooLarge(f"SSE event larger than {self._max} bytes")
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\x00" not in value:
                self.last_event_id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self.retry_ms = int(value)
        return None

    def _dispatch(self) -> SSEEvent | None:
        if not self._data:
            self._event = ""
            return None
        event = SSEEvent(
            data="\n".join(self._data),
            event=self._event or "message",
            id=self.last_event_id,
            retry_ms=self.retry_ms,
        )
        self._reset_event()
        return event

    def _reset_event(self) -> None:
        self._data = []
        self._data_size = 0
        self._event = ""
