"""Idempotency records: a mutating call with a reused ``Idempotency-Key`` returns its first result.

A record lives at ``<root>/.agentdock/idempotency/<namespace>/<sha256(agent, key)>.json``
and holds the operation's fingerprint and its JSON result.  Three ways in:

``IdempotencyStore.run(agent, key, operation, arguments, apply)``
    Runs ``apply()`` (which returns a JSON-serialisable dict) at most once per
    ``(agent, key)`` and returns ``(result, replayed)``.  The first call stores the
    result (atomic write); later calls get ``(stored_result, True)`` without
    running ``apply``.  Blocks its thread on the key's lock.
``await IdempotencyStore.run_async(agent, key, operation, arguments, apply)``
    The same for an async ``apply``, for servers: a duplicate that arrives while
    the first call is still running waits on the event loop (one in-process lock
    per key) and the cross-process file lock is taken in a worker thread, so the
    loop never blocks.  Once ``apply`` has started it is shielded from
    cancellation (a client that drops its stream does not cut it short), so its
    result is always recorded for the retry.
``with IdempotencyStore.claim(agent, key, operation, arguments) as claim``
    The building block: holds the key's lock, ``claim.result`` is the stored
    result or None; ``claim.record_text(result)`` is the record's file content for
    a caller that writes it inside its own atomic commit (the QMS journal does,
    so a kill between applying and recording cannot happen); ``claim.save`` writes it.

A key reused for a different operation or arguments raises
:class:`~agentdock.mcphost.errors.IdempotencyConflict`.  The lock is a cross-process
``flock`` (one of 256 lock files chosen by the key's hash), so two processes, or two
threads, with one key apply once.  With ``key=None`` ``apply`` simply runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio

from agentdock import paths
from agentdock.mcphost.errors import IdempotencyConflict
from agentdock.mcphost.files import acquire_lock, atomic_write_text, file_lock, release_lock

__all__ = ["KEY_RE", "WAITING_MESSAGE", "Claim", "IdempotencyStore"]

log = logging.getLogger("agentdock.mcphost.idempotency")

#: Keys are 1-200 visible ASCII characters (UUIDs, ULIDs, anything a client generates).
KEY_RE = re.compile(r"^[\x21-\x7e]{1,200}$")
#: Logged (INFO) when a call has to wait for another holding its key's lock.
WAITING_MESSAGE = "Idempotency-Key %s (%s, %s): a call with this key is in flight; waiting for its result"


@dataclass
class Claim:
    """One key's record while its lock is held (see :meth:`IdempotencyStore.claim`)."""

    agent: str
    key: str
    operation: str
    fingerprint: str
    path: Path
    result: dict[str, Any] | None = field(default=None)

    def reload(self) -> dict[str, Any] | None:
        """Read the record again (e.g. after a recovery that may have written it)."""
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            self.result = None
            return None
        record = json.loads(raw)
        if record.get("fingerprint") != self.fingerprint:
            raise IdempotencyConflict(
                f"Idempotency-Key {self.key!r} was already used for {record.get('operation')} "
                "with different arguments; use a new key for a new operation"
            )
        result: dict[str, Any] = record["result"]
        self.result = result
        return result

    def record_text(self, result: Mapping[str, Any]) -> str:
        """The record file's content for ``result`` (write it to :attr:`path`)."""
        record = {
            "agent": self.agent,
            "key": self.key,
            "operation": self.operation,
            "fingerprint": self.fingerprint,
            "created": datetime.now(UTC).isoformat(),
            "result": dict(result),
        }
        return json.dumps(record, sort_keys=True) + "\n"

    def save(self, result: Mapping[str, Any]) -> None:
        """Record ``result`` (atomic write, owner-only)."""
        atomic_write_text(self.path, self.record_text(result), mode=0o600)
        self.result = dict(result)


class IdempotencyStore:
    def __init__(self, project_root: Path, namespace: str) -> None:
        if not re.fullmatch(r"[a-z0-9_-]{1,40}", namespace):
            raise ValueError(f"invalid idempotency namespace {namespace!r}")
        self.dir = paths.state_dir(Path(project_root)) / "idempotency" / namespace
        #: per-key in-process locks of run_async: (lock, number of tasks using it)
        self._local: dict[str, tuple[anyio.Lock, int]] = {}

    def _new_claim(self, agent: str, key: str, operation: str, arguments: Mapping[str, Any]) -> Claim:
        if not KEY_RE.match(key):
            raise IdempotencyConflict("Idempotency-Key must be 1-200 visible ASCII characters")
        digest = hashlib.sha256(f"{agent}\0{key}".encode()).hexdigest()
        fingerprint = hashlib.sha256(
            json.dumps(
                {"operation": operation, "arguments": dict(arguments)}, sort_keys=True, default=str
            ).encode()
        ).hexdigest()
        return Claim(agent, key, operation, fingerprint, self.dir / f"{digest}.json")

    def _lock_path(self, claim: Claim) -> Path:
        return self.dir / "locks" / f"{claim.path.stem[:2]}.lock"

    @contextlib.contextmanager
    def claim(self, agent: str, key: str, operation: str, arguments: Mapping[str, Any]) -> Iterator[Claim]:
        """Hold ``(agent, key)``'s lock; the claim carries the stored result, if any."""
        claim = self._new_claim(agent, key, operation, arguments)
        with file_lock(
            self._lock_path(claim), on_wait=lambda: log.info(WAITING_MESSAGE, key, agent, operation)
        ):
            claim.reload()
            yield claim

    def run(
        self,
        agent: str,
        key: str | None,
        operation: str,
        arguments: Mapping[str, Any],
        apply: Callable[[], dict[str, Any]],
    ) -> tuple[dict[str, Any], bool]:
        """``(result, replayed)``: the stored result for a known key, else ``apply()``'s, recorded."""
        if key is None:
            return apply(), False
        with self.claim(agent, key, operation, arguments) as claim:
            if claim.result is not None:
                return claim.result, True
            result = apply()
            claim.save(result)
            return result, False

    async def run_async(
        self,
        agent: str,
        key: str | None,
        operation: str,
        arguments: Mapping[str, Any],
        apply: Callable[[], Awaitable[dict[str, Any]]],
    ) -> tuple[dict[str, Any], bool]:
        """:meth:`run` for an async ``apply``; never blocks the event loop (see the module doc)."""
        if key is None:
            return await apply(), False
        claim = self._new_claim(agent, key, operation, arguments)
        async with self._local_lock(claim):
            lock_path = self._lock_path(claim)
            # Shielded: a cancelled wait must not lose a descriptor the worker thread already locked.
            with anyio.CancelScope(shield=True):
                fd = await anyio.to_thread.run_sync(
                    lambda: acquire_lock(
                        lock_path, on_wait=lambda: log.info(WAITING_MESSAGE, key, agent, operation)
                    )
                )
            try:
                stored = await anyio.to_thread.run_sync(claim.reload)
                if stored is not None:
                    return stored, True
                with anyio.CancelScope(shield=True):
                    result = await apply()
                    await anyio.to_thread.run_sync(claim.save, result)
                return result, False
            finally:
                release_lock(fd)

    @contextlib.asynccontextmanager
    async def _local_lock(self, claim: Claim) -> AsyncIterator[None]:
        """The key's in-process lock, so same-process duplicates wait on the loop, not in threads."""
        digest = claim.path.stem
        lock, users = self._local.get(digest, (None, 0))
        if lock is None:
            lock = anyio.Lock()
        self._local[digest] = (lock, users + 1)
        try:
            if lock.locked():
                log.info(WAITING_MESSAGE, claim.key, claim.agent, claim.operation)
            async with lock:
                yield
        finally:
            lock, users = self._local[digest]
            if users <= 1:
                del self._local[digest]
            else:
                self._local[digest] = (lock, users - 1)
