"""``./launch.sh A B ...``: one window per agent plus one for the inbox watcher.

The launcher calls :func:`launch_many` when it is given more than one agent::

    from agentdock.launcher.windows.multi import MultiLaunchOptions, add_multi_arguments, launch_many

    add_multi_arguments(parser)            # --tmux, --terminal NAME, --session NAME
    ...
    if len(agents) > 1:
        return launch_many(agents, MultiLaunchOptions(
            project_root=resolved_root,    # every window gets --project-root <this>
            passthrough=("--shell",) if args.shell else (),
            tmux=args.tmux, terminal=args.terminal, session=args.session))

Each agent window runs ``./launch.sh <agent> --project-root ROOT [passthrough]``
and the last window runs ``agentdock inbox watch --project-root ROOT`` (told the
tmux session, so it can flag announcements in the agent's window).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TextIO

import agentdock
from agentdock.launcher.hostcerts import ENV_BUNDLES
from agentdock.launcher.windows.errors import SessionError, TerminalNotFound
from agentdock.launcher.windows.terminals import (
    TERMINALS,
    HostPlatform,
    Window,
    detect_terminal,
    terminal_command,
)
from agentdock.launcher.windows.tmux import TmuxSession, default_session_name
from agentdock.procs import CommandRunner, child_env, run_command

__all__ = [
    "WATCHER_WINDOW",
    "MultiLaunchOptions",
    "add_multi_arguments",
    "agent_command",
    "default_launch_command",
    "host_platform",
    "launch_many",
    "plan_windows",
]

#: The title of the watcher's window (so no agent may be called this).
WATCHER_WINDOW = "inbox"

_AGENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$")

#: Starts a terminal program and returns without waiting for it (raises OSError when missing).
Spawner = Callable[[Sequence[str], Path, Mapping[str, str]], None]


@dataclass(frozen=True)
class MultiLaunchOptions:
    """How to open a multi-agent session; built once by the launcher's ``main``."""

    project_root: Path
    #: extra ``./launch.sh`` options for every agent window, e.g. ``("--shell",)``
    passthrough: tuple[str, ...] = ()
    #: use tmux even on a desktop (``--tmux``)
    tmux: bool = False
    #: a terminal by name (``--terminal``), overriding detection
    terminal: str | None = None
    #: tmux session name (default ``agentdock-<project folder>``)
    session: str | None = None
    #: how one agent is launched (default: this checkout's ``launch.sh``)
    launch_command: tuple[str, ...] | None = None
    #: the tmux program and global options, e.g. ``("tmux", "-L", "test")``
    tmux_command: tuple[str, ...] = ("tmux",)


def add_multi_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--tmux``, ``--terminal NAME`` and ``--session NAME`` to the launcher's parser."""
    group = parser.add_argument_group("several agents at once")
    group.add_argument("--tmux", action="store_true", help="open agents in a tmux session even on a desktop")
    group.add_argument(
        "--terminal",
        choices=sorted(TERMINALS),
        help="open agents in this terminal instead of the detected one",
    )
    group.add_argument("--session", help="tmux session name (default agentdock-<project folder>)")


def default_launch_command() -> tuple[str, ...]:
    """This checkout's ``launch.sh`` when there is one, else ``python -m agentdock launch``."""
    script = Path(agentdock.__file__).resolve().parents[2] / "launch.sh"
    if script.is_file() and os.access(script, os.X_OK):
        return (str(script),)
    return (sys.executable, "-m", "agentdock", "launch")


def agent_command(launch: Sequence[str], agent: str, options: MultiLaunchOptions) -> tuple[str, ...]:
    return (*launch, agent, "--project-root", str(options.project_root), *options.passthrough)


def _watcher_command(options: MultiLaunchOptions, tmux_session: str | None) -> tuple[str, ...]:
    command = [
        sys.executable,
        "-m",
        "agentdock",
        "inbox",
        "watch",
        "--project-root",
        str(options.project_root),
    ]
    if tmux_session:
        command += ["--tmux-session", tmux_session]
    return tuple(command)


def _check_agents(agents: Sequence[str]) -> list[str]:
    names = list(agents)
    if len(names) < 2:
        raise SessionError("a multi-agent session needs at least two agents")
    for name in names:
        if not _AGENT.match(name):
            raise SessionError(f"agent name {name!r} may hold only letters, digits, '_' and '-'")
        if name == WATCHER_WINDOW:
            raise SessionError(f"{WATCHER_WINDOW!r} is the watcher's window; no agent may use that name")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise SessionError(f"each agent may appear once; repeated: {', '.join(duplicates)}")
    return names


def plan_windows(
    agents: Sequence[str], options: MultiLaunchOptions, tmux_session: str | None
) -> list[Window]:
    """The windows to open: one per agent, in the order given, then the watcher."""
    launch = options.launch_command or default_launch_command()
    root = options.project_root
    windows = [Window(agent, agent_command(launch, agent, options), root) for agent in _check_agents(agents)]
    windows.append(Window(WATCHER_WINDOW, _watcher_command(options, tmux_session), root))
    return windows


def _spawn(args: Sequence[str], cwd: Path, env: Mapping[str, str]) -> None:
    subprocess.Popen(  # the terminal outlives us; we never wait for it
        list(args),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _is_wsl(environ: Mapping[str, str]) -> bool:
    if environ.get("WSL_DISTRO_NAME"):
        return True
    try:
        return "microsoft" in Path("/proc/sys/kernel/osrelease").read_text().lower()
    except OSError:
        return False


def host_platform(environ: Mapping[str, str]) -> HostPlatform:
    """The real platform terminal detection looks at (lets the launcher check before it builds)."""
    return HostPlatform(sys.platform, environ, shutil.which, _is_wsl(environ))


def launch_many(
    agents: Sequence[str],
    options: MultiLaunchOptions,
    *,
    environ: Mapping[str, str] | None = None,
    platform: HostPlatform | None = None,
    run: CommandRunner | None = None,
    spawn: Spawner = _spawn,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Open one window per agent and one for the inbox watcher; 0 when all opened, 1 if not.

    ``environ``, ``platform``, ``run`` (tmux commands) and ``spawn`` (terminal programs)
    default to the real ones; tests pass their own.
    """
    environ = dict(os.environ) if environ is None else environ
    out = out or sys.stdout
    err = err or sys.stderr
    env = child_env(environ)
    platform = platform or host_platform(environ)
    run = run or partial(run_command, env=env, timeout_s=30.0)
    try:
        terminal = detect_terminal(platform, requested=options.terminal, force_tmux=options.tmux)
        if terminal == "tmux":
            return _launch_tmux(agents, options, environ, run, out)
        return _launch_terminals(agents, options, terminal, platform=platform, env=env, spawn=spawn, out=out)
    except SessionError as exc:
        print(f"agentdock: {exc}", file=err)
        return 1


def _launch_tmux(
    agents: Sequence[str],
    options: MultiLaunchOptions,
    environ: Mapping[str, str],
    run: CommandRunner,
    out: TextIO,
) -> int:
    name = options.session or default_session_name(options.project_root)
    # AGENTDOCK_/DOCKER_ settings, and the CA bundles the image hash covers (launcher.hostcerts):
    # a window's launch must see what the parent's build saw, or it would rebuild the image.
    window_env = {
        k: v for k, v in environ.items() if k.startswith(("AGENTDOCK_", "DOCKER_")) or k in ENV_BUNDLES
    }
    session = TmuxSession(name, run, options.tmux_command, window_env)
    windows = plan_windows(agents, options, name)
    session.create(windows)
    titles = ", ".join(w.title for w in windows)
    print(f"Started tmux session {name!r} with windows: {titles}", file=out)
    if environ.get("TMUX"):
        print(f"  switch to it:  {session.switch_hint()}", file=out)
    print(f"  attach:        {session.attach_hint()}", file=out)
    print(
        "  in tmux:       Ctrl-b w to pick a window, Ctrl-b n/p next/previous, Ctrl-b d to detach", file=out
    )
    print(f"  end it:        {shlex.join([*options.tmux_command, 'kill-session', '-t', name])}", file=out)
    return 0


def _launch_terminals(
    agents: Sequence[str],
    options: MultiLaunchOptions,
    terminal: str,
    *,
    platform: HostPlatform,
    env: Mapping[str, str],
    spawn: Spawner,
    out: TextIO,
) -> int:
    windows = plan_windows(agents, options, None)
    for window in windows:
        args = terminal_command(terminal, window, platform)
        try:
            spawn(args, window.cwd, env)
        except OSError as exc:
            raise TerminalNotFound(f"cannot start {args[0]!r} for {window.title}: {exc}") from exc
        print(f"Opened {terminal} window for {window.title}", file=out)
    return 0
