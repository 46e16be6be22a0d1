"""Running helper programs (tmux, notify-send, osascript, terminals): argument lists, an
allow-listed environment, a bounded wait.  Never a shell."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from agentdock.defaults import CHILD_ENV_KEYS, child_env

__all__ = ["CHILD_ENV_KEYS", "CommandResult", "CommandRunner", "child_env", "run_command"]


@dataclass(frozen=True)
class CommandResult:
    returncode: int
    stdout: str
    stderr: str


#: Runs an argument list to completion; raises ``OSError`` when the program cannot be
#: started and ``subprocess.TimeoutExpired`` when it outlives its timeout.
CommandRunner = Callable[[Sequence[str]], CommandResult]


def run_command(
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    timeout_s: float = 10.0,
    cwd: Path | None = None,
) -> CommandResult:
    completed = subprocess.run(
        list(args),
        env=dict(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    return CommandResult(completed.returncode, completed.stdout, completed.stderr)
