"""Watch every agent's inbox and report each new task exactly once.

Events from watchdog (one recursive watch on ``.claude/users``) are reduced to
three facts about a path — *it may have changed*, *it is gone*, *a folder
appeared or vanished* — and handed, in order, to one worker thread that owns
all state.  The worker waits until a task file has been quiet for
``settle_s`` (so a file written in several chunks is read once, complete),
parses it and announces it when its *content version* (the front matter) is
new for that path.

Dedupe rule: a task is announced once per (file identity, content version),
where the file identity is the path during one lifetime — from the moment the
file appears (created, written, moved or renamed in) until it is deleted or
moved away.  So:

* the several ``modified``/``closed`` events one write produces, a ``touch``,
  or a body-only edit announce nothing new;
* an atomic write (temp file + rename onto the task name) announces once,
  and rewriting a file with different front matter announces again;
* deleting a task and creating it again announces again, even with the same
  content (the deletion ends the identity; inode numbers are not trusted, since
  file systems reuse them at once);
* files that are not ``task-*.md`` (editors' swap, backup, temp and lock files)
  are never read.

A rescan of all inboxes at start announces the tasks already pending, and a
periodic rescan (``rescan_s``) repairs anything lost if the kernel's event queue
ever overflowed; both go through the same dedupe, so they never repeat an
announcement.
"""

from __future__ import annotations

import logging
import os
import queue
import stat
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from agentdock.inbox.errors import TaskFileError, WatcherError
from agentdock.inbox.tasks import Task, is_agent_name, is_task_filename, read_task_file
from agentdock.paths import users_dir

__all__ = ["InboxWatcher", "WatcherConfig", "iter_task_paths"]

log = logging.getLogger(__name__)

_Op = Literal["touch", "gone", "gone_tree", "scan_tree", "scan_all", "stop"]

_EVENT_FILTER: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    FileModifiedEvent,
    FileClosedEvent,
    FileMovedEvent,
    FileDeletedEvent,
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
]


@dataclass(frozen=True)
class WatcherConfig:
    """What the watcher watches and how patient it is."""

    project_root: Path
    #: a task file is read once it has had no event for this long
    settle_s: float = 0.1
    #: ...but never later than this after its first event, however busy it is
    max_delay_s: float = 2.0
    #: rescan all inboxes this often (None: only at start)
    rescan_s: float | None = 30.0


def iter_task_paths(project_root: Path) -> Iterator[tuple[str, Path]]:
    """``(agent, path)`` for every task file currently in any agent's inbox, sorted."""
    base = users_dir(project_root)
    if not _real_dir(base.parent) or not _real_dir(base):
        return
    try:
        agents = sorted(entry.name for entry in os.scandir(base) if entry.is_dir(follow_symlinks=False))
    except (FileNotFoundError, NotADirectoryError):
        return
    for agent in agents:
        if not is_agent_name(agent):
            continue
        inbox = base / agent / "inbox"
        if not _real_dir(inbox):  # a linked inbox leads somewhere no task is: never followed
            continue
        try:
            names = sorted(entry.name for entry in os.scandir(inbox) if entry.is_file(follow_symlinks=False))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for name in names:
            if is_task_filename(name):
                yield agent, inbox / name


def _real_dir(path: Path) -> bool:
    """A directory itself, not a link to one."""
    try:
        return stat.S_ISDIR(path.lstat().st_mode)
    except OSError:
        return False


@dataclass
class _Armed:
    deadline: float
    first_seen: float


class _Handler(FileSystemEventHandler):
    """Runs on watchdog's dispatcher thread: classify, enqueue, nothing else."""

    def __init__(self, watcher: InboxWatcher) -> None:
        self._watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        watcher = self._watcher
        src = os.fsdecode(event.src_path)
        dest = os.fsdecode(event.dest_path) if event.dest_path else ""
        if event.is_directory:
            if isinstance(event, DirMovedEvent):
                watcher._enqueue_dir("gone_tree", src)
                watcher._enqueue_dir("scan_tree", dest)
            elif isinstance(event, DirDeletedEvent):
                watcher._enqueue_dir("gone_tree", src)
            else:
                watcher._enqueue_dir("scan_tree", src)
        elif isinstance(event, FileMovedEvent):
            watcher._enqueue_task("gone", src)
            watcher._enqueue_task("touch", dest)
        elif isinstance(event, FileDeletedEvent):
            watcher._enqueue_task("gone", src)
        else:
            watcher._enqueue_task("touch", src)


class InboxWatcher:
    """Calls ``on_task`` (on its own worker thread) for each new task in any agent's inbox.

    Use as a context manager, or call :meth:`start` and :meth:`stop`.  ``clock``
    is a monotonic clock in seconds; ``observer_factory`` builds the watchdog
    observer (the platform's native one by default).
    """

    def __init__(
        self,
        config: WatcherConfig,
        on_task: Callable[[Task], None],
        *,
        clock: Callable[[], float] = time.monotonic,
        observer_factory: Callable[[], BaseObserver] = Observer,
    ) -> None:
        self._config = config
        self._on_task = on_task
        self._clock = clock
        self._observer_factory = observer_factory
        self._users = users_dir(config.project_root)
        self._prefix = str(self._users) + os.sep
        self._queue: queue.SimpleQueue[tuple[_Op, str]] = queue.SimpleQueue()
        self._observer: BaseObserver | None = None
        self._worker: threading.Thread | None = None
        # worker-thread state
        self._armed: dict[str, _Armed] = {}
        self._announced: dict[str, tuple[str, ...]] = {}
        self._malformed: dict[str, str] = {}

    # -- classification (any thread) -------------------------------------------------

    def _split(self, path: str) -> list[str] | None:
        if not path.startswith(self._prefix):
            return None
        return path[len(self._prefix) :].split(os.sep)

    def _enqueue_task(self, op: _Op, path: str) -> None:
        parts = self._split(path)
        if (
            parts is not None
            and len(parts) == 3
            and parts[1] == "inbox"
            and is_agent_name(parts[0])
            and is_task_filename(parts[2])
        ):
            self._queue.put((op, path))

    def _enqueue_dir(self, op: _Op, path: str) -> None:
        parts = self._split(path)
        if parts is None or not is_agent_name(parts[0]):
            return
        if len(parts) == 1 or (len(parts) == 2 and parts[1] == "inbox"):
            self._queue.put((op, path))

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        if self._worker is not None:
            raise WatcherError("watcher already started")
        try:
            self._users.mkdir(parents=True, exist_ok=True)
            observer = self._observer_factory()
            observer.schedule(_Handler(self), str(self._users), recursive=True, event_filter=_EVENT_FILTER)
            observer.start()
        except OSError as exc:
            raise WatcherError(f"cannot watch {self._users}: {exc}") from exc
        self._observer = observer
        # Scan only after the watch is live, so nothing written in between is missed.
        self._queue.put(("scan_all", ""))
        self._worker = threading.Thread(target=self._run, name="inbox-watcher", daemon=True)
        self._worker.start()
        log.info("watching %s", self._users)

    def stop(self, timeout: float = 5.0) -> None:
        observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            observer.join(timeout)
        worker = self._worker
        if worker is not None:
            self._queue.put(("stop", ""))
            worker.join(timeout)
            self._worker = None

    def __enter__(self) -> InboxWatcher:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- worker thread --------------------------------------------------------------

    def _run(self) -> None:
        rescan_s = self._config.rescan_s
        next_rescan = self._clock() + rescan_s if rescan_s else None
        while True:
            now = self._clock()
            waits = [armed.deadline - now for armed in self._armed.values()]
            if next_rescan is not None:
                waits.append(next_rescan - now)
            timeout = max(0.0, min(waits)) if waits else None
            try:
                op, path = self._queue.get(timeout=timeout)
            except queue.Empty:
                pass
            else:
                if op == "stop":
                    return
                self._guarded(self._apply, op, path)
            now = self._clock()
            if next_rescan is not None and now >= next_rescan and rescan_s:
                self._guarded(self._apply, "scan_all", "")
                next_rescan = now + rescan_s
            self._guarded(self._process_due, now)

    def _guarded(self, step: Callable[..., None], *args: Any) -> None:
        """One unreadable folder or unexpected failure is logged; the watcher keeps watching."""
        try:
            step(*args)
        except Exception:
            log.exception("inbox watcher step %s%r failed; carrying on", step.__name__, args)

    def _arm(self, path: str, *, from_scan: bool = False) -> None:
        """Read ``path`` once it has been quiet for ``settle_s``; a scan never postpones a read."""
        now = self._clock()
        armed = self._armed.get(path)
        if from_scan and armed is not None:
            return
        first = armed.first_seen if armed is not None else now
        deadline = min(now + self._config.settle_s, first + self._config.max_delay_s)
        self._armed[path] = _Armed(deadline=deadline, first_seen=first)

    def _forget(self, path: str) -> None:
        self._armed.pop(path, None)
        self._announced.pop(path, None)
        self._malformed.pop(path, None)

    def _apply(self, op: _Op, path: str) -> None:
        if op == "touch":
            self._arm(path)
        elif op == "gone":
            self._forget(path)
        elif op == "gone_tree":
            prefix = path + os.sep
            for known in [*self._announced, *self._armed, *self._malformed]:
                if known.startswith(prefix):
                    self._forget(known)
        elif op == "scan_tree":
            inbox = Path(path) if path.endswith(os.sep + "inbox") else Path(path) / "inbox"
            if not (_real_dir(inbox.parent) and _real_dir(inbox)):
                return
            try:
                names = [entry.name for entry in os.scandir(inbox) if entry.is_file(follow_symlinks=False)]
            except (FileNotFoundError, NotADirectoryError):
                return
            agent = inbox.parent.name
            for name in sorted(names):
                if is_agent_name(agent) and is_task_filename(name):
                    self._arm(str(inbox / name), from_scan=True)
        elif op == "scan_all":
            present = {str(path) for _, path in iter_task_paths(self._config.project_root)}
            for known in [*self._announced, *self._malformed]:
                if known not in present:
                    self._forget(known)
            for task_path in sorted(present):
                self._arm(task_path, from_scan=True)

    def _process_due(self, now: float) -> None:
        due = sorted((armed.deadline, path) for path, armed in self._armed.items() if armed.deadline <= now)
        for _, path in due:
            del self._armed[path]
            self._process(path)

    def _process(self, path: str) -> None:
        parts = self._split(path)
        assert parts is not None  # only inbox paths are ever armed
        try:
            task = read_task_file(Path(path), parts[0], root=self._config.project_root)
        except FileNotFoundError:
            self._forget(path)
            return
        except TaskFileError as exc:
            if self._malformed.get(path) != exc.reason:
                self._malformed[path] = exc.reason
                log.warning("skipping malformed task file %s: %s", path, exc.reason)
            return
        self._malformed.pop(path, None)
        version = task.content_version()
        if self._announced.get(path) == version:
            return
        self._announced[path] = version
        try:
            self._on_task(task)
        except Exception:
            log.exception("announcing %s failed", path)
