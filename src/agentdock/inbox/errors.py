"""Errors raised by ``agentdock.inbox``.

::

    InboxError                      anything this package refuses or fails to do
    ├── TaskFileError               a task file that does not follow the spec'd format (path, reason)
    └── WatcherError                the watcher cannot start or run
        └── WatcherAlreadyRunning   another live watcher holds the project's pid file (pid)

Foreign exceptions (``OSError`` from the filesystem or ``subprocess``, ``yaml.YAMLError``)
are translated into these once, where they cross into this package.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "InboxError",
    "TaskFileError",
    "WatcherAlreadyRunning",
    "WatcherError",
]


class InboxError(Exception):
    """Base of every error this package raises."""


class TaskFileError(InboxError):
    """A task file is malformed; the watcher logs it and skips it."""

    def __init__(self, path: Path | None, reason: str) -> None:
        self.path = path
        self.reason = reason
        where = f"{path}: " if path is not None else ""
        super().__init__(f"{where}{reason}")


class WatcherError(InboxError):
    """The watcher cannot start or keep running."""


class WatcherAlreadyRunning(WatcherError):
    """A live watcher for the same project already holds the pid file."""

    def __init__(self, pid_file: Path, pid: int | None) -> None:
        self.pid_file = pid_file
        self.pid = pid
        who = f"pid {pid}" if pid is not None else "another process"
        super().__init__(
            f"an inbox watcher for this project is already running ({who}, pid file {pid_file}); "
            "stop it first or watch its window"
        )
