"""Inter-process locks around the launch steps two ``./launch.sh`` runs may take at once.

Two launches (two terminals, or the windows of ``./launch.sh A B``) both find
the servers down or the image stale and both act: two ``qms-mcp`` race for one
port and the loser's pid file hides the winner; two builds race on one build
context.  `step_lock` serialises such a step across processes with ``flock(2)``
on a file under a run folder: the second launch waits (bounded, saying for whom
and why), then re-checks and finds the work done.

``flock`` belongs to the open file, so two threads of one process exclude each
other too, and the kernel drops the lock of a process that dies — no stale
lock files to clean up.  The holder's pid is written into the file for the
waiting message.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from agentdock.launcher.errors import LockTimeout

__all__ = ["step_lock"]


def _holder(fd: int) -> str:
    with contextlib.suppress(OSError, ValueError):
        pid = int(os.pread(fd, 32, 0).decode("ascii").strip() or "0")
        if pid > 0:
            return f"pid {pid}"
    return "another process"


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextlib.contextmanager
def step_lock(
    path: Path,
    *,
    what: str,
    timeout_s: float,
    on_wait: Callable[[str], None] = lambda _: None,
    poll_s: float = 0.1,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[None]:
    """Hold the exclusive lock ``path`` for the block; wait at most ``timeout_s`` for it.

    ``what`` names the step (``"starting the MCP servers"``) in the waiting
    message sent to ``on_wait`` and in `LockTimeout`.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise LockTimeout(f"cannot open the lock file {path} for {what}: {exc}") from exc
    try:
        if not _try_lock(fd):
            holder = _holder(fd)
            on_wait(f"waiting for another launch ({holder}) {what} (lock {path}, up to {timeout_s:.0f}s)")
            deadline = clock() + timeout_s
            while not _try_lock(fd):
                if clock() >= deadline:
                    raise LockTimeout(
                        f"another launch ({_holder(fd)}) has been {what} for more than {timeout_s:.0f}s "
                        f"(lock {path}); wait for it to finish, or stop it if it hangs, then launch again"
                    )
                sleep(poll_s)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock
