"""Which terminal to open windows in, and the exact argument list that opens one.

Detection (``detect_terminal``) looks only at what it is given — the platform,
the environment, a ``which`` function — so every branch is unit-tested:

* ``--tmux`` (or a platform with no desktop: ``$DISPLAY``/``$WAYLAND_DISPLAY``
  unset on Linux/BSD, WSL without Windows Terminal) → tmux;
* ``--terminal NAME`` → that terminal, refused with the list when unknown or missing;
* macOS → Terminal.app through ``osascript``;
* WSL → Windows Terminal (``wt.exe``) running each window through ``wsl.exe``;
* Git Bash / MSYS → ``mintty``;
* a Linux desktop → the first of gnome-terminal, konsole, xterm.

Every window's command is wrapped by :func:`hold_command`, so a window whose
session ended (or failed to start) stays open showing why until Enter is pressed.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agentdock.launcher.windows.errors import TerminalNotFound

__all__ = [
    "DESKTOP_TERMINALS",
    "TERMINALS",
    "HostPlatform",
    "Window",
    "detect_terminal",
    "hold_command",
    "terminal_command",
]

#: Every name ``--terminal`` accepts, with the program that must be on PATH for it.
TERMINALS: dict[str, str] = {
    "tmux": "tmux",
    "gnome-terminal": "gnome-terminal",
    "konsole": "konsole",
    "xterm": "xterm",
    "macos-terminal": "osascript",
    "windows-terminal": "wt.exe",
    "mintty": "mintty",
}

#: Linux desktop terminals, in the order detection tries them.
DESKTOP_TERMINALS: tuple[str, ...] = ("gnome-terminal", "konsole", "xterm")

# A constant script: the window's title and command arrive as positional arguments.
_HOLD_SCRIPT = (
    'title=$1; shift; "$@"; status=$?; '
    "printf '\\n[agentdock] %s ended (exit status %s). Press Enter to close this window.\\n' "
    '"$title" "$status"; read -r _ || true'
)


@dataclass(frozen=True)
class HostPlatform:
    """What terminal detection looks at (``sys.platform``, the environment, PATH lookups)."""

    system: str
    environ: Mapping[str, str] = field(default_factory=dict)
    which: Callable[[str], str | None] = lambda _name: None
    is_wsl: bool = False

    def has(self, program: str) -> bool:
        return self.which(program) is not None

    @property
    def has_desktop(self) -> bool:
        return bool(self.environ.get("DISPLAY") or self.environ.get("WAYLAND_DISPLAY"))


@dataclass(frozen=True)
class Window:
    """One window to open: its title, the command it runs, the folder it starts in."""

    title: str
    command: tuple[str, ...]
    cwd: Path


def hold_command(title: str, command: Sequence[str]) -> list[str]:
    """Run ``command``; when it ends, say so and wait for Enter before the window closes."""
    return ["bash", "-c", _HOLD_SCRIPT, "agentdock-window", title, *command]


def _tmux_or_refuse(platform: HostPlatform, why: str) -> str:
    if platform.has("tmux"):
        return "tmux"
    raise TerminalNotFound(
        f"{why}, and tmux is not installed: install tmux, or name a terminal with --terminal"
    )


def detect_terminal(platform: HostPlatform, *, requested: str | None = None, force_tmux: bool = False) -> str:
    """The terminal to use, by the rules in this module's docstring."""
    if force_tmux:
        requested = "tmux"
    if requested is not None:
        if requested not in TERMINALS:
            raise TerminalNotFound(f"unknown terminal {requested!r}; choose one of {', '.join(TERMINALS)}")
        if not platform.has(TERMINALS[requested]):
            raise TerminalNotFound(
                f"terminal {requested!r} needs {TERMINALS[requested]!r}, which is not on PATH"
            )
        return requested
    if platform.system == "darwin":
        if platform.has("osascript"):
            return "macos-terminal"
        return _tmux_or_refuse(platform, "osascript is missing")
    if platform.is_wsl:
        if platform.has("wt.exe"):
            return "windows-terminal"
        return _tmux_or_refuse(platform, "Windows Terminal (wt.exe) is not reachable from WSL")
    if platform.environ.get("MSYSTEM") or platform.system in {"win32", "cygwin", "msys"}:
        if platform.has("mintty"):
            return "mintty"
        return _tmux_or_refuse(platform, "mintty is not on PATH")
    if not platform.has_desktop:
        return _tmux_or_refuse(platform, "there is no desktop ($DISPLAY and $WAYLAND_DISPLAY are unset)")
    for name in DESKTOP_TERMINALS:
        if platform.has(name):
            return name
    return _tmux_or_refuse(platform, f"none of {', '.join(DESKTOP_TERMINALS)} is installed")


def _wt_escape(arg: str) -> str:
    # wt.exe splits its own command line on ';' (it separates wt sub-commands).
    return arg.replace(";", "\\;")


def terminal_command(terminal: str, window: Window, platform: HostPlatform) -> list[str]:
    """The argument list that opens ``window`` in ``terminal`` (never a shell string,
    except for Terminal.app, whose ``do script`` only takes one: it is quoted with
    :func:`shlex.join` and handed to AppleScript as an argument, not spliced into it)."""
    held = hold_command(window.title, window.command)
    cwd = str(window.cwd)
    if terminal == "gnome-terminal":
        return ["gnome-terminal", f"--title={window.title}", f"--working-directory={cwd}", "--", *held]
    if terminal == "konsole":
        return ["konsole", "--workdir", cwd, "-p", f"tabtitle={window.title}", "-e", *held]
    if terminal == "xterm":
        return ["xterm", "-T", window.title, "-e", *held]
    if terminal == "mintty":
        return ["mintty", "--title", window.title, "--exec", *held]
    if terminal == "macos-terminal":
        script = f"{shlex.join(['cd', cwd])} && {shlex.join(held)}"
        return [
            "osascript",
            "-e",
            "on run argv",
            "-e",
            'tell application "Terminal" to do script (item 1 of argv)',
            "-e",
            'tell application "Terminal" to activate',
            "-e",
            "end run",
            script,
        ]
    if terminal == "windows-terminal":
        distro = platform.environ.get("WSL_DISTRO_NAME", "")
        inner = ["wsl.exe", *(["-d", distro] if distro else []), "--cd", cwd, "--", *held]
        return ["wt.exe", "-w", "0", "new-tab", "--title", _wt_escape(window.title), *map(_wt_escape, inner)]
    raise TerminalNotFound(f"no command line for terminal {terminal!r}")
