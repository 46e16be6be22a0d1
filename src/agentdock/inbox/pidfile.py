"""One watcher per project: a pid file that is also an advisory lock.

The file holds the owner's pid for people and tools to read; the lock
(``fcntl.flock``) is what decides ownership, so a pid file left behind by a
watcher that was killed (SIGKILL, power loss) is stale the moment its owner
is gone — the kernel drops the lock — and the next watcher takes it over.
Where ``fcntl`` is missing (native Windows) the pid inside is checked for
liveness instead.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from types import TracebackType

from agentdock.inbox.errors import WatcherAlreadyRunning, WatcherError
from agentdock.procinfo import pid_alive

try:  # pragma: no cover - platform branch
    import fcntl
except ImportError:  # pragma: no cover - native Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["PidFile", "read_pid"]


def read_pid(path: Path) -> int | None:
    """The pid written in ``path``, or None when absent or unreadable."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


class PidFile:
    """Hold ``path`` for the life of this object; refuse when a live owner holds it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            if fcntl is None:  # pragma: no cover - native Windows
                self._acquire_by_liveness()
            else:
                self._acquire_by_lock()
        except OSError as exc:
            raise WatcherError(f"cannot create pid file {self.path}: {exc}") from exc

    def _acquire_by_lock(self) -> None:
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise WatcherAlreadyRunning(self.path, read_pid(self.path)) from None
            # The previous owner may have unlinked the file between our open and our lock:
            # then we locked an orphan and must start over on the file now at the path.
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        os.fsync(fd)
        self._fd = fd

    def _acquire_by_liveness(self) -> None:  # pragma: no cover - native Windows
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                pid = read_pid(self.path)
                if pid is not None and pid != os.getpid() and pid_alive(pid):
                    raise WatcherAlreadyRunning(self.path, pid) from None
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
                continue
            os.write(fd, f"{os.getpid()}\n".encode("ascii"))
            self._fd = fd
            return
        raise WatcherAlreadyRunning(self.path, read_pid(self.path))

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> PidFile:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
