"""A tmux session with one window per agent and one for the inbox watcher.

Every tmux call is an argument list (``tmux new-window ... -- cmd args...``:
tmux runs a multi-argument command directly, without a shell).  Sessions are
addressed as ``=name`` so a session called ``agentdock`` never matches
``agentdock-demo`` by prefix.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from agentdock.launcher.windows.errors import SessionError, TmuxError
from agentdock.launcher.windows.terminals import Window, hold_command
from agentdock.procs import CommandResult, CommandRunner

__all__ = ["TmuxSession", "default_session_name"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def default_session_name(project_root: Path) -> str:
    """``agentdock-<project folder>``, with characters tmux treats specially replaced."""
    return "agentdock-" + (_UNSAFE.sub("-", project_root.name).strip("-") or "project")


@dataclass(frozen=True)
class TmuxSession:
    """Builds and runs the tmux commands for one named session."""

    name: str
    run: CommandRunner
    tmux: tuple[str, ...] = ("tmux",)
    #: variables set in every window (``-e KEY=VALUE``), e.g. ``AGENTDOCK_*`` settings
    window_env: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        if not self.name or _UNSAFE.search(self.name):
            raise SessionError(f"tmux session name {self.name!r} may hold only letters, digits, '_' and '-'")

    def _env_args(self) -> list[str]:
        return [
            arg for key, value in sorted((self.window_env or {}).items()) for arg in ("-e", f"{key}={value}")
        ]

    def new_session_args(self, window: Window) -> list[str]:
        return [
            *self.tmux,
            "new-session",
            "-d",
            "-s",
            self.name,
            "-n",
            window.title,
            "-c",
            str(window.cwd),
            *self._env_args(),
            "--",
            *hold_command(window.title, window.command),
        ]

    def new_window_args(self, window: Window) -> list[str]:
        return [
            *self.tmux,
            "new-window",
            "-d",
            "-t",
            f"={self.name}:",
            "-n",
            window.title,
            "-c",
            str(window.cwd),
            *self._env_args(),
            "--",
            *hold_command(window.title, window.command),
        ]

    def _call(self, args: Sequence[str], *, check: bool = True) -> CommandResult:
        try:
            result = self.run(args)
        except (OSError, subprocess.SubprocessError) as exc:
            raise TmuxError(args, -1, str(exc)) from exc
        if check and result.returncode != 0:
            raise TmuxError(args, result.returncode, result.stderr)
        return result

    def exists(self) -> bool:
        return self._call([*self.tmux, "has-session", "-t", f"={self.name}"], check=False).returncode == 0

    def create(self, windows: Sequence[Window]) -> None:
        """Open the session with ``windows`` (the first is selected); undo it all on failure."""
        if not windows:
            raise SessionError("a tmux session needs at least one window")
        if self.exists():
            raise SessionError(
                f"tmux session {self.name!r} already exists: attach with `{self.attach_hint()}` "
                f"or end it with `{shlex.join([*self.tmux, 'kill-session', '-t', self.name])}`"
            )
        self._call(self.new_session_args(windows[0]))
        try:
            for window in windows[1:]:
                self._call(self.new_window_args(window))
            self._call([*self.tmux, "select-window", "-t", f"={self.name}:={windows[0].title}"])
        except TmuxError:
            self.kill()
            raise

    def kill(self) -> None:
        self._call([*self.tmux, "kill-session", "-t", f"={self.name}"], check=False)

    def window_names(self) -> list[str]:
        result = self._call([*self.tmux, "list-windows", "-t", f"={self.name}", "-F", "#{window_name}"])
        return result.stdout.split()

    def attach_hint(self) -> str:
        return shlex.join([*self.tmux, "attach", "-t", self.name])

    def switch_hint(self) -> str:
        return shlex.join([*self.tmux, "switch-client", "-t", self.name])
