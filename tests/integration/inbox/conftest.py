"""Fixtures for the inbox tests: a project folder, task-file writers, a running watcher
that collects what it announces, and a barrier that proves nothing more is coming."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agentdock.inbox.tasks import Task
from agentdock.inbox.watcher import InboxWatcher, WatcherConfig
from agentdock.launcher.engine import in_ci
from agentdock.paths import agent_inbox_dir
from agentdock.procinfo import session_members

WAIT_S = 20.0

#: watchdog 7 shares one inotify reader thread per process.  When a folder appears inside a
#: recursive watch it can register the new folder twice and says so with a RuntimeWarning
#: ("Callback with id ... already exists ... It will be Overwritten") - harmless, the same
#: callback is kept.  Under pytest's ``filterwarnings = error`` that warning becomes an
#: exception that kills the shared reader thread, and every later watch in the process goes
#: deaf.  Tests that create inbox folders while watching ignore exactly that warning.
WATCHDOG_RACE_WARNING = pytest.mark.filterwarnings("ignore:Callback with id:RuntimeWarning")


def task_text(
    doc_id: str = "CR-056",
    *,
    task_type: str = "REVIEW",
    version: str = "0.1",
    by: str = "claude",
    assignee: str = "qa",
    body: str = "Review it and call qms_review.\n",
) -> str:
    return (
        "---\n"
        f"task_id: task-{doc_id}-{task_type}-v{version.replace('.', '-')}\n"
        f"task_type: {task_type}\n"
        f"workflow_type: {task_type}\n"
        f"doc_id: {doc_id}\n"
        f"title: Title of {doc_id}\n"
        f"responsible_user: {assignee}\n"
        f"assigned_by: {by}\n"
        "assigned_date: '2025-01-02T03:04:05Z'\n"
        f"version: '{version}'\n"
        "---\n"
        f"{body}"
    )


def task_name(doc_id: str, task_type: str = "REVIEW", version: str = "0.1") -> str:
    return f"task-{doc_id}-{task_type}-v{version.replace('.', '-')}.md"


class Announcements:
    """Collects announced tasks; waits (bounded) on a condition, never sleeps."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.tasks: list[Task] = []

    def __call__(self, task: Task) -> None:
        with self._cond:
            self.tasks.append(task)
            self._cond.notify_all()

    def wait_until(self, predicate: Callable[[list[Task]], bool], what: str) -> list[Task]:
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(self.tasks), timeout=WAIT_S):
                seen = [(t.agent, t.doc_id, t.version) for t in self.tasks]
                raise AssertionError(f"waited {WAIT_S}s for {what}; announced so far: {seen}")
            return list(self.tasks)

    def wait_for_doc(self, doc_id: str, count: int = 1) -> list[Task]:
        return self.wait_until(lambda ts: sum(t.doc_id == doc_id for t in ts) >= count, f"{count}x {doc_id}")

    def docs(self) -> list[str]:
        with self._cond:
            return [t.doc_id for t in self.tasks if not t.doc_id.startswith("SOP-9")]


class Project:
    def __init__(self, root: Path, announcements: Announcements) -> None:
        self.root = root
        self.announcements = announcements
        self._barriers = itertools.count(900)

    def inbox(self, agent: str = "qa") -> Path:
        path = agent_inbox_dir(self.root, agent)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def write(self, doc_id: str, agent: str = "qa", **fields: str) -> Path:
        path = self.inbox(agent) / task_name(
            doc_id, fields.get("task_type", "REVIEW"), fields.get("version", "0.1")
        )
        path.write_text(task_text(doc_id, assignee=agent, **fields))
        return path

    def barrier(self, agent: str = "qa") -> list[str]:
        """Write a sentinel task and wait for it.

        Events of one watch arrive in order and the watcher reads files in the order
        their last event arrived, so once the sentinel is announced, every file
        touched before it has been dealt with: whatever was going to be announced
        for them has been.  Returns the non-sentinel doc ids announced so far.
        """
        doc_id = f"SOP-{next(self._barriers)}"
        self.write(doc_id, agent)
        self.announcements.wait_for_doc(doc_id)
        return self.announcements.docs()


@pytest.fixture
def announcements() -> Announcements:
    return Announcements()


@pytest.fixture
def project(tmp_path: Path, announcements: Announcements) -> Project:
    root = tmp_path / "project"
    root.mkdir()
    return Project(root, announcements)


@pytest.fixture
def watcher(project: Project, announcements: Announcements) -> Iterator[InboxWatcher]:
    project.inbox("qa")
    with InboxWatcher(WatcherConfig(project.root, settle_s=0.05, rescan_s=None), announcements) as running:
        project.barrier("qa")  # the watch is live and the initial scan is done
        yield running


def poll_until(predicate: Callable[[], bool], what: str, timeout_s: float = WAIT_S) -> None:
    """For state with no event to wait on (a pane's text, a file another process removes):
    check every 0.1 s, fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout_s}s for {what}")
        time.sleep(0.1)


class TmuxServer:
    """A private tmux server (``tmux -L <socket>``) that tests drive and then kill."""

    def __init__(self, socket: str) -> None:
        self.command = ("tmux", "-L", socket)
        tmpdir = os.environ.get("TMUX_TMPDIR") or "/tmp"
        self.socket_path = Path(tmpdir) / f"tmux-{os.getuid()}" / socket

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.command, *args], capture_output=True, text=True, timeout=WAIT_S, check=check
        )

    def capture(self, target: str) -> str:
        return self.run("capture-pane", "-p", "-J", "-S", "-", "-t", target).stdout

    def wait_for_text(self, target: str, text: str, timeout_s: float = WAIT_S) -> str:
        """Poll the pane (bounded) until ``text`` shows; there is no event to wait on."""
        screens = [""]

        def shown() -> bool:
            screens[0] = self.capture(target)
            return text in screens[0]

        try:
            poll_until(shown, f"{text!r} in {target}", timeout_s)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; pane:\n{screens[0]}") from None
        return screens[0]

    def send(self, target: str, line: str) -> None:
        self.run("send-keys", "-t", target, "-l", line)
        self.run("send-keys", "-t", target, "Enter")

    def kill(self) -> None:
        self.run("kill-server", check=False)
        # tmux leaves its socket file behind; it is ours, so remove it.
        self.socket_path.unlink(missing_ok=True)

    def hang_up(self, timeout_s: float = 60.0) -> None:
        """Kill the server and wait (bounded) until every process of its windows has ended.

        Each pane is a session of its own (sid = the pane's pid); what runs in it (a
        launcher, its `docker exec`) gets SIGHUP and cleans up on its way out.  Servers a
        launcher started live in sessions of their own and are not waited for here.
        """
        listed = self.run("list-panes", "-a", "-F", "#{pane_pid}", check=False).stdout.split()
        sessions = {int(pid) for pid in listed if pid.isdigit()}
        self.kill()
        poll_until(lambda: not session_members(sessions), "the windows' processes to end", timeout_s)


@pytest.fixture
def tmux_server() -> Iterator[TmuxServer]:
    if shutil.which("tmux") is None:
        if in_ci():
            pytest.fail("CI=true but tmux is not installed (apt install tmux)", pytrace=False)
        pytest.skip("tmux is not installed")
    server = TmuxServer(f"agentdock-test-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        yield server
    finally:
        server.kill()
