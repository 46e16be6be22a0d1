"""Where announcements go: the watcher's own output, the desktop, the agent's tmux window.

Each notifier has one method, ``notify(task)``, and never raises: a notifier
that cannot deliver logs why and the watcher carries on.  The programs they
run (``notify-send``, ``osascript``, ``tmux``) get argument lists through an
injected :data:`~agentdock.procs.CommandRunner`, so tests can record them.
"""

from __future__ import annotations

import logging
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, TextIO

from agentdock.inbox.tasks import Task, display_text, format_announcement
from agentdock.procs import CommandResult, CommandRunner

__all__ = [
    "DesktopNotifier",
    "Notifier",
    "StreamNotifier",
    "TmuxNotifier",
    "fan_out",
]

log = logging.getLogger(__name__)


class Notifier(Protocol):
    def notify(self, task: Task) -> None: ...


def fan_out(notifiers: Sequence[Notifier]) -> Callable[[Task], None]:
    """One callback that hands each task to every notifier in turn."""

    def announce(task: Task) -> None:
        for notifier in notifiers:
            notifier.notify(task)

    return announce


class StreamNotifier:
    """Writes ``[QA] New task: Review CR-056 (from claude)`` lines to a text stream."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def notify(self, task: Task) -> None:
        line = format_announcement(task)
        log.info("%s", line)
        with self._lock:
            try:
                self._stream.write(line + "\n")
                self._stream.flush()
            except OSError as exc:
                log.warning("cannot write announcement: %s", exc)


def _summary(task: Task) -> tuple[str, str]:
    """Notification title and body; everything from the task file escaped and bounded."""
    title = f"agentdock: new task for {display_text(task.agent, 64)}"
    body = f"{task.verb} {display_text(task.doc_id, 64)} (from {display_text(task.assigned_by, 64)})"
    if task.title:
        body += f": {display_text(task.title)}"
    return title, body


def _run_quietly(run: CommandRunner, args: Sequence[str], what: str) -> CommandResult | None:
    try:
        result = run(args)
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("%s failed: %s", what, exc)
        return None
    if result.returncode != 0:
        log.warning("%s exited %s: %s", what, result.returncode, result.stderr.strip())
    return result


class DesktopNotifier:
    """A desktop notification through ``notify-send`` (Linux) or ``osascript`` (macOS)."""

    def __init__(self, program: str, run: CommandRunner) -> None:
        if program not in {"notify-send", "osascript"}:
            raise ValueError(f"unknown desktop notifier {program!r}")
        self.program = program
        self._run = run

    @classmethod
    def detect(
        cls,
        *,
        platform: str,
        environ: Mapping[str, str],
        which: Callable[[str], str | None],
        run: CommandRunner,
    ) -> DesktopNotifier | None:
        """The notifier this desktop supports, or None (no desktop, or no program for it)."""
        if platform == "darwin":
            return cls("osascript", run) if which("osascript") else None
        if environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"):
            return cls("notify-send", run) if which("notify-send") else None
        return None

    def command(self, task: Task) -> list[str]:
        title, body = _summary(task)
        if self.program == "osascript":
            # The text travels as arguments to the script, never spliced into it.
            return [
                "osascript",
                "-e",
                "on run argv",
                "-e",
                "display notification (item 2 of argv) with title (item 1 of argv)",
                "-e",
                "end run",
                title,
                body,
            ]
        return ["notify-send", "--app-name=agentdock", title, body]

    def notify(self, task: Task) -> None:
        _run_quietly(self._run, self.command(task), self.program)


class TmuxNotifier:
    """A status-line message for the agent's window in a tmux session (``session:agent``).

    tmux shows ``display-message`` on the client attached to the session.  As tmux
    falls back to another window when the target is missing, the agent's window is
    looked up first and nothing is shown when the session has no window for it.
    """

    def __init__(
        self, session: str, run: CommandRunner, *, tmux: Sequence[str] = ("tmux",), display_ms: int = 10000
    ) -> None:
        self.session = session
        self._run = run
        self._tmux = list(tmux)
        self._display_ms = display_ms

    @staticmethod
    def current_session(
        environ: Mapping[str, str], run: CommandRunner, tmux: Sequence[str] = ("tmux",)
    ) -> str | None:
        """The session this process runs in, when it runs inside tmux."""
        if not environ.get("TMUX"):
            return None
        target = ["-t", environ["TMUX_PANE"]] if environ.get("TMUX_PANE") else []
        result = _run_quietly(run, [*tmux, "display-message", "-p", *target, "#{session_name}"], "tmux")
        if result is None or result.returncode != 0:
            return None
        return result.stdout.strip() or None

    def list_windows_command(self) -> list[str]:
        return [*self._tmux, "list-windows", "-t", f"={self.session}", "-F", "#{window_name}"]

    def display_command(self, task: Task) -> list[str]:
        message = f"{format_announcement(task)}".replace("#", "##")  # no format expansion
        return [
            *self._tmux,
            "display-message",
            "-d",
            str(self._display_ms),
            "-t",
            f"={self.session}:={task.agent}",
            message,
        ]

    def notify(self, task: Task) -> None:
        windows = _run_quietly(self._run, self.list_windows_command(), "tmux list-windows")
        if windows is None or windows.returncode != 0:
            return
        if task.agent not in windows.stdout.split():
            log.debug("tmux session %s has no window %s", self.session, task.agent)
            return
        _run_quietly(self._run, self.display_command(task), "tmux display-message")
