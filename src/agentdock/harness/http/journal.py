"""What a harness server saw: every request, every tool execution, every reply to a server request.

Tests assert effects against it (``journal.executions_of("record") == 1``: the
tool ran exactly once, whatever the client retried) and wait on it with a
bounded timeout instead of sleeping (:meth:`Journal.wait_for`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import anyio

__all__ = ["Execution", "Journal", "RequestRecord"]


@dataclass
class RequestRecord:
    """One HTTP request as received, with what the server did about it."""

    seq: int
    at_s: float
    http_method: str
    rpc_method: str | None
    rpc_ids: list[Any]
    session_id: str | None
    idempotency_key: str | None
    protocol_version: str | None
    attempt: int
    faults: list[str] = field(default_factory=list)
    handled: bool = False
    status: int | None = None
    #: ``executed``, ``deduplicated`` (an Idempotency-Key seen before), or empty.
    tool_outcome: str = ""
    #: The client's ``host:port`` (one port across requests = one kept-alive connection).
    peer: str | None = None


@dataclass(frozen=True)
class Execution:
    """One real run of a tool (a side effect)."""

    seq: int
    tool: str
    arguments: dict[str, Any]
    idempotency_key: str | None
    session_id: str | None


class Journal:
    """An append-only record with bounded waiting; used from the server's event loop only."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._t0 = clock()
        self.requests: list[RequestRecord] = []
        self.executions: list[Execution] = []
        #: Responses the client POSTed back to server-initiated requests.
        self.replies: list[dict[str, Any]] = []
        self._changed: anyio.Event | None = None  # made lazily: an Event needs a running loop

    def _touch(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    def record_request(self, **fields: Any) -> RequestRecord:
        record = RequestRecord(seq=len(self.requests) + 1, at_s=self._clock() - self._t0, **fields)
        self.requests.append(record)
        self._touch()
        return record

    def record_execution(
        self, tool: str, arguments: dict[str, Any], key: str | None, session: str | None
    ) -> None:
        self.executions.append(Execution(len(self.executions) + 1, tool, dict(arguments), key, session))
        self._touch()

    def record_reply(self, message: dict[str, Any]) -> None:
        self.replies.append(message)
        self._touch()

    def updated(self) -> None:
        """Wake waiters after a record was changed in place (status, outcome)."""
        self._touch()

    def executions_of(self, tool: str) -> int:
        return sum(1 for e in self.executions if e.tool == tool)

    def count(self, rpc_method: str) -> int:
        return sum(1 for r in self.requests if r.rpc_method == rpc_method)

    async def wait_for(self, predicate: Callable[[Journal], bool], timeout_s: float) -> None:
        """Return once ``predicate(self)`` holds; raise ``TimeoutError`` after ``timeout_s``."""
        with anyio.fail_after(timeout_s):
            while not predicate(self):
                if self._changed is None:
                    self._changed = anyio.Event()
                await self._changed.wait()

    def dumps(self) -> str:
        """The journal as JSON lines (requests, then executions, then replies): evidence for a failure report."""
        lines = [json.dumps({"request": asdict(r)}, default=str) for r in self.requests]
        lines += [json.dumps({"execution": asdict(e)}, default=str) for e in self.executions]
        lines += [json.dumps({"reply": m}, default=str) for m in self.replies]
        return "\n".join(lines)
