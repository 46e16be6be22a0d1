"""agentdock.inbox: the inbox watcher, its notifiers, and multi-agent sessions.

* :class:`InboxWatcher` (``agentdock inbox watch``) announces each new task file in any
  agent's inbox exactly once: ``[QA] New task: Review CR-056 (from claude)``.
* :func:`launch_many` (``./launch.sh A B ...``) opens one window per agent plus one for
  the watcher, in tmux or the platform's terminal.

Names are imported on first use, so ``agentdock.inbox.multi`` does not pay for watchdog.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentdock.inbox.errors import (
        InboxError,
        SessionError,
        TaskFileError,
        TerminalNotFound,
        TmuxError,
        WatcherAlreadyRunning,
        WatcherError,
    )
    from agentdock.inbox.multi import MultiLaunchOptions, add_multi_arguments, launch_many
    from agentdock.inbox.notifiers import DesktopNotifier, StreamNotifier, TmuxNotifier
    from agentdock.inbox.tasks import Task, format_announcement, is_task_filename, parse_task, read_task_file
    from agentdock.inbox.watcher import InboxWatcher, WatcherConfig

_WHERE = {
    "InboxError": "errors",
    "SessionError": "errors",
    "TaskFileError": "errors",
    "TerminalNotFound": "errors",
    "TmuxError": "errors",
    "WatcherAlreadyRunning": "errors",
    "WatcherError": "errors",
    "MultiLaunchOptions": "multi",
    "add_multi_arguments": "multi",
    "launch_many": "multi",
    "DesktopNotifier": "notifiers",
    "StreamNotifier": "notifiers",
    "TmuxNotifier": "notifiers",
    "Task": "tasks",
    "format_announcement": "tasks",
    "is_task_filename": "tasks",
    "parse_task": "tasks",
    "read_task_file": "tasks",
    "InboxWatcher": "watcher",
    "WatcherConfig": "watcher",
}

__all__ = [
    "DesktopNotifier",
    "InboxError",
    "InboxWatcher",
    "MultiLaunchOptions",
    "SessionError",
    "StreamNotifier",
    "Task",
    "TaskFileError",
    "TerminalNotFound",
    "TmuxError",
    "TmuxNotifier",
    "WatcherAlreadyRunning",
    "WatcherConfig",
    "WatcherError",
    "add_multi_arguments",
    "format_announcement",
    "is_task_filename",
    "launch_many",
    "parse_task",
    "read_task_file",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
