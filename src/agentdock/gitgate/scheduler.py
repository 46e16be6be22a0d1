"""Fair scheduling of chains: one agent's slow command never holds up another agent's.

* each agent's chains run one at a time, in arrival order (an agent cannot overtake itself);
* different agents run concurrently; only chains that change the shared working tree, index
  or refs locally (``StepKind.writes_worktree``: add, commit, switch, pull…) also take the
  repository's working-tree lock, so two agents' ``add`` and ``commit`` never interleave.  Reads
  never wait for it, nor do fetch/push (git's own ref locks cover them);
* at most ``max_queued`` chains per agent are running or waiting; one more is refused at once
  with rule ``queue-full`` (nothing runs), so a flood from one agent costs the others nothing.

Every lock is FIFO (``anyio.Lock``) and every step is bounded by its timeout, so every wait ends.
An optional ``observer(event, agent)`` sees ``queued``, ``started``, ``finished`` and
``refused`` — tests assert on it instead of on the clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager

import anyio

from agentdock.gitgate.errors import Refused
from agentdock.gitgate.stepkind import StepKind

__all__ = ["DEFAULT_MAX_QUEUED", "QUEUE_RULE", "Scheduler"]

DEFAULT_MAX_QUEUED = 4
QUEUE_RULE = "queue-full"

Observer = Callable[[str, str], None]


class Scheduler:
    def __init__(self, max_queued: int = DEFAULT_MAX_QUEUED, *, observer: Observer | None = None) -> None:
        if max_queued < 1:
            raise ValueError("max_queued must be at least 1")
        self.max_queued = max_queued
        self._observer = observer
        self._pending: dict[str, int] = {}
        self._agent_locks: dict[str, anyio.Lock] = {}
        self._worktree = anyio.Lock()

    def pending(self, agent: str) -> int:
        """Chains of ``agent`` running or waiting now."""
        return self._pending.get(agent, 0)

    def _emit(self, event: str, agent: str) -> None:
        if self._observer is not None:
            self._observer(event, agent)

    @asynccontextmanager
    async def slot(self, agent: str, kinds: Iterable[StepKind]) -> AsyncIterator[None]:
        """Wait for ``agent``'s turn (and the working tree when a step writes it); Refused when full."""
        if self.pending(agent) >= self.max_queued:
            self._emit("refused", agent)
            raise Refused(
                QUEUE_RULE,
                f"agent {agent!r} already has {self.max_queued} git commands running or waiting; "
                "wait for them to finish and try again",
            )
        writes = any(kind.writes_worktree for kind in kinds)
        self._pending[agent] = self.pending(agent) + 1
        lock = self._agent_locks.setdefault(agent, anyio.Lock())
        self._emit("queued", agent)
        try:
            async with lock:
                if writes:
                    async with self._worktree:
                        self._emit("started", agent)
                        yield
                else:
                    self._emit("started", agent)
                    yield
        finally:
            self._pending[agent] -= 1
            if self._pending[agent] == 0:
                del self._pending[agent]
                self._agent_locks.pop(agent, None)
            self._emit("finished", agent)
