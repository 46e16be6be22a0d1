"""Errors of the multi-agent window opener (``./launch.sh A B ...``)::

LauncherError (agentdock.launcher.errors)
└── SessionError                a multi-agent session could not be opened
    ├── TerminalNotFound        no usable terminal (or the one asked for is missing)
    └── TmuxError               a tmux command failed (args, stderr)
"""

from __future__ import annotations

from collections.abc import Sequence

from agentdock.launcher.errors import LauncherError

__all__ = ["SessionError", "TerminalNotFound", "TmuxError"]


class SessionError(LauncherError):
    """A multi-agent session (tmux or terminal windows) could not be opened."""


class TerminalNotFound(SessionError):
    """No usable terminal program was found, or the one named is not installed."""


class TmuxError(SessionError):
    """A tmux command exited non-zero."""

    def __init__(self, args: Sequence[str], returncode: int, stderr: str) -> None:
        self.args_list = list(args)
        self.returncode = returncode
        self.stderr = stderr
        detail = stderr.strip() or "no output"
        super().__init__(f"`{' '.join(args)}` exited {returncode}: {detail}")
