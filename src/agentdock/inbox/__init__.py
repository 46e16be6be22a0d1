"""agentdock.inbox: the inbox watcher and its notifiers.

* :class:`InboxWatcher` (``agentdock inbox watch``) announces each new task file in any
  agent's inbox exactly once: ``[QA] New task: Review CR-056 (from claude)``.
* Notifiers carry announcements to the watcher's output, the desktop and the agent's tmux window.

The multi-agent windows that run the watcher live in :mod:`agentdock.launcher.windows`.
"""

from agentdock.inbox.errors import InboxError, TaskFileError, WatcherAlreadyRunning, WatcherError
from agentdock.inbox.notifiers import DesktopNotifier, StreamNotifier, TmuxNotifier
from agentdock.inbox.tasks import Task, format_announcement, is_task_filename, parse_task, read_task_file
from agentdock.inbox.watcher import InboxWatcher, WatcherConfig

__all__ = [
    "DesktopNotifier",
    "InboxError",
    "InboxWatcher",
    "StreamNotifier",
    "Task",
    "TaskFileError",
    "TmuxNotifier",
    "WatcherAlreadyRunning",
    "WatcherConfig",
    "WatcherError",
    "format_announcement",
    "is_task_filename",
    "parse_task",
    "read_task_file",
]
