"""Running helper programs (tmux, notify-send, osascript, terminals): argument lists, an
allow-listed environment, a bounded wait.  Never a shell."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CHILD_ENV_KEYS", "CommandResult", "CommandRunner", "child_env", "run_command"]

#: Variables a child program may inherit; everything else (tokens, secrets, the caller's
#: odd settings) stays behind.  Desktop, tmux and Docker variables are here because the
#: programs we start need them to find the display, the tmux server and the engine.
CHILD_ENV_KEYS: frozenset[str] = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "LANG",
        "LC_ALL",
        "LC_CTYPE",
        "TERM",
        "COLORTERM",
        "TMPDIR",
        "TZ",
        "DISPLAY",
        "WAYLAND_DISPLAY",
        "XDG_RUNTIME_DIR",
        "XDG_SESSION_TYPE",
        "DBUS_SESSION_BUS_ADDRESS",
        "XAUTHORITY",
        "TMUX",
        "TMUX_PANE",
        "TMUX_TMPDIR",
        "DOCKER_HOST",
        "DOCKER_CONTEXT",
        "DOCKER_CONFIG",
        "DOCKER_CERT_PATH",
        "DOCKER_TLS_VERIFY",
        "CI",
        "MSYSTEM",
        "WSL_DISTRO_NAME",
        "WSLENV",
        "SYSTEMROOT",
        "COMSPEC",
    }
)


def child_env(environ: Mapping[str, str], extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The allow-listed part of ``environ`` (plus ``AGENTDOCK_*``), then ``extra``."""
    env = {k: v for k, v in environ.items() if k in CHILD_ENV_KEYS or k.startswith("AGENTDOCK_")}
    if extra:
        env.update(extra)
    return env


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
