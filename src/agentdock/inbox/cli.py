"""``agentdock inbox``: watch agents' inboxes (``watch``) or list what is pending (``list``).

``agentdock inbox watch [--project-root DIR]`` prints one line per new task —
``[QA] New task: Review CR-056 (from claude)`` — starting with the tasks
already pending, until SIGTERM or Ctrl-C.  It keeps ``.inbox-watcher.pid`` and
``.inbox-watcher.log`` in the project's run folder (``.agentdock/run``) and
refuses to start while another watcher for the same project is alive.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any

from agentdock.clirun import run_cli
from agentdock.inbox.errors import InboxError, TaskFileError
from agentdock.inbox.notifiers import DesktopNotifier, Notifier, StreamNotifier, TmuxNotifier, fan_out
from agentdock.inbox.pidfile import PidFile
from agentdock.inbox.tasks import format_announcement, read_task_file
from agentdock.inbox.watcher import InboxWatcher, WatcherConfig, iter_task_paths
from agentdock.paths import qms_dir, run_dir, users_dir
from agentdock.procs import child_env, run_command

__all__ = ["LOG_FILE_NAME", "PID_FILE_NAME", "WatchSettings", "main", "parse_watch_settings"]

PID_FILE_NAME = ".inbox-watcher.pid"
LOG_FILE_NAME = ".inbox-watcher.log"

log = logging.getLogger("agentdock.inbox")

_STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGINT", "SIGHUP") if hasattr(signal, name)
)
_SignalHandler = Callable[[int, FrameType | None], Any] | int | None


@dataclass(frozen=True)
class WatchSettings:
    project_root: Path
    settle_s: float
    rescan_s: float | None
    desktop: bool
    tmux_session: str | None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agentdock inbox", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    root_help = (
        "project root holding .claude/users (default: $AGENTDOCK_PROJECT_ROOT, else the current folder)"
    )
    watch = sub.add_parser("watch", help="announce new tasks in every agent's inbox until stopped")
    watch.add_argument("--project-root", type=Path, help=root_help)
    watch.add_argument(
        "--settle-ms", type=int, default=100, help="quiet time before a file is read (default 100)"
    )
    watch.add_argument(
        "--rescan-s", type=float, default=30.0, help="full rescan interval, 0 to disable (default 30)"
    )
    watch.add_argument("--no-desktop", action="store_true", help="no desktop notifications")
    watch.add_argument(
        "--tmux-session",
        help="show a status message in this tmux session's window named after the agent "
        "(default: the session the watcher runs in, if any)",
    )
    listing = sub.add_parser("list", help="print the tasks pending in every agent's inbox")
    listing.add_argument("--project-root", type=Path, help=root_help)
    return parser


def _resolve_root(given: Path | None, environ: Mapping[str, str]) -> Path:
    root = given or (
        Path(environ["AGENTDOCK_PROJECT_ROOT"]) if environ.get("AGENTDOCK_PROJECT_ROOT") else None
    )
    root = (root or Path.cwd()).expanduser().resolve()
    if not root.is_dir():
        raise InboxError(f"project root {root} is not a folder")
    if not (qms_dir(root).is_dir() or users_dir(root).parent.is_dir()):
        raise InboxError(
            f"{root} has neither QMS/ nor .claude/: not an agentdock project "
            "(pass --project-root, or create one with `qms init --root DIR`)"
        )
    return root


def parse_watch_settings(args: argparse.Namespace, environ: Mapping[str, str]) -> WatchSettings:
    if args.settle_ms < 0 or args.rescan_s < 0:
        raise InboxError("--settle-ms and --rescan-s must not be negative")
    return WatchSettings(
        project_root=_resolve_root(args.project_root, environ),
        settle_s=args.settle_ms / 1000,
        rescan_s=args.rescan_s or None,
        desktop=not args.no_desktop,
        tmux_session=args.tmux_session,
    )


def _notifiers(settings: WatchSettings, environ: Mapping[str, str]) -> list[Notifier]:
    run = partial(run_command, env=child_env(environ), timeout_s=5.0)
    notifiers: list[Notifier] = [StreamNotifier(sys.stdout)]
    if settings.desktop:
        desktop = DesktopNotifier.detect(platform=sys.platform, environ=environ, which=shutil.which, run=run)
        if desktop is not None:
            notifiers.append(desktop)
    session = settings.tmux_session or TmuxNotifier.current_session(environ, run)
    if session and shutil.which("tmux"):
        notifiers.append(TmuxNotifier(session, run))
    return notifiers


def _log_to_file(path: Path) -> logging.Handler:
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    return handler


def watch(settings: WatchSettings, environ: Mapping[str, str]) -> int:
    run = run_dir(settings.project_root)
    file_handler = _log_to_file(run / LOG_FILE_NAME)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.WARNING)
    console.setFormatter(logging.Formatter("agentdock inbox: %(message)s"))
    previous_level = log.level
    for handler in (file_handler, console):
        log.addHandler(handler)
    log.setLevel(logging.INFO)
    stop = threading.Event()
    restore: dict[signal.Signals, _SignalHandler] = {}
    try:
        with PidFile(run / PID_FILE_NAME):
            if threading.current_thread() is threading.main_thread():
                # SIGHUP too: closing the watcher's terminal or tmux window must also clean up.
                for signum in _STOP_SIGNALS:
                    restore[signum] = signal.signal(signum, lambda _s, _f: stop.set())
            config = WatcherConfig(
                settings.project_root, settle_s=settings.settle_s, rescan_s=settings.rescan_s
            )
            notifiers = _notifiers(settings, environ)
            print(f"Watching {users_dir(settings.project_root)}/*/inbox for new tasks (Ctrl-C to stop)")
            sys.stdout.flush()
            with InboxWatcher(config, fan_out(notifiers)):
                log.info("watcher %s started for %s", os.getpid(), settings.project_root)
                while not stop.wait(1.0):
                    pass
            log.info("watcher %s stopped", os.getpid())
    except InboxError as exc:  # WatcherAlreadyRunning among them
        log.error("%s", exc)
        return 1
    finally:
        for signum, previous in restore.items():
            signal.signal(signum, previous)
        for h in (file_handler, console):
            log.removeHandler(h)
            h.close()
        log.setLevel(previous_level)
    return 0


def list_pending(project_root: Path) -> int:
    for agent, path in iter_task_paths(project_root):
        try:
            print(format_announcement(read_task_file(path, agent, root=project_root)))
        except (TaskFileError, FileNotFoundError) as exc:
            print(f"agentdock inbox: skipping {exc}", file=sys.stderr)
    return 0


def _main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    environ = dict(os.environ)
    try:
        if args.command == "list":
            return list_pending(_resolve_root(args.project_root, environ))
        return watch(parse_watch_settings(args, environ), environ)
    except InboxError as exc:
        print(f"agentdock inbox: {exc}", file=sys.stderr)
        return 2


def main(argv: Sequence[str] | None = None) -> int:
    """``agentdock inbox``: see :func:`_main`; exit codes, Ctrl-C and errors follow :mod:`agentdock.clirun`."""
    return run_cli("agentdock inbox", lambda: _main(argv))
