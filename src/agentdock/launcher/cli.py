"""``agentdock launch`` / ``stop`` / ``doctor`` (``./launch.sh``, ``./launch.sh stop``, ``./launch.sh doctor``).

Options are resolved once here (flag > environment > default) into frozen
dataclasses; everything below takes them as arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from agentdock import paths
from agentdock.clirun import run_cli
from agentdock.defaults import GIT_PORT, QMS_PORT
from agentdock.inbox.errors import InboxError
from agentdock.launcher.errors import LauncherError
from agentdock.launcher.hardening import ContainerLimits, format_bytes, limits_from
from agentdock.launcher.image import DEFAULT_TAG, agentdock_checkout, prepare_context
from agentdock.launcher.project import default_data_dir, resolve_project_root
from agentdock.launcher.session import (
    Interrupted,
    LaunchOptions,
    Reporter,
    Servers,
    launch,
    prepare_many,
    print_compose,
    terminate_on_signals,
)
from agentdock.launcher.windows.multi import (
    MultiLaunchOptions,
    add_multi_arguments,
    host_platform,
    launch_many,
)
from agentdock.launcher.windows.terminals import detect_terminal

__all__ = ["doctor_main", "main", "multi_options", "stop_main"]

_EPILOG = """\
one agent (./launch.sh [agent], default claude): check Docker; resolve the project; provision
the agent's token; start qms-mcp and git-mcp when they do not answer (pid/log files in
<project>/.agentdock/run); build the image when missing or when its inputs changed; refuse a
second container for the agent; start the container (SETUP_ONLY=1); wait until it is ready;
attach `claude` (or bash); remove the container on exit, Ctrl-C or SIGTERM.  The servers stay
up: `./launch.sh stop` stops them.

several agents (./launch.sh claude qa ...): check every name, start the servers and build
the image once, then open one window per agent (each runs ./launch.sh <agent> with --shell,
--qms-port, --git-port, --image and --projects passed on) and one for the inbox watcher:
tmux (--tmux, or when there is no desktop) or the desktop's terminal (--terminal NAME).

other commands: ./launch.sh doctor  (check each piece)   ./launch.sh stop  (stop the servers)
"""


def _port(value: str) -> int:
    port = int(value)
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range: {value}")
    return port


def _common(parser: argparse.ArgumentParser, environ: Mapping[str, str]) -> None:
    parser.add_argument(
        "--project-root",
        type=Path,
        default=Path(environ["AGENTDOCK_PROJECT_ROOT"]) if environ.get("AGENTDOCK_PROJECT_ROOT") else None,
        help="project with a QMS (default: the current repo if it has QMS/, else the demo project)",
    )
    parser.add_argument(
        "--qms-port",
        type=_port,
        default=_port(environ["AGENTDOCK_QMS_PORT"]) if environ.get("AGENTDOCK_QMS_PORT") else None,
        help=f"qms-mcp's port (default: the project's own, chosen once: {QMS_PORT} for the first project)",
    )
    parser.add_argument(
        "--git-port",
        type=_port,
        default=_port(environ["AGENTDOCK_GIT_PORT"]) if environ.get("AGENTDOCK_GIT_PORT") else None,
        help=f"git-mcp's port (default: the project's own, chosen once: {GIT_PORT} for the first project)",
    )


def _launch_parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="./launch.sh",
        description=(
            "Start an agent's container and attach an interactive Claude Code session "
            "(or, given several agents, one window per agent plus an inbox watcher)."
        ),
        epilog=_EPILOG + "\nArguments after `--` go to claude (or bash).\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "agent", nargs="*", help="agent name(s) (default: claude); two or more open a multi-agent session"
    )
    _common(parser, environ)
    parser.add_argument(
        "--no-attach", action="store_true", help="start the container and print how to attach"
    )
    parser.add_argument(
        "--rebuild", action="store_true", help="rebuild the image even if its inputs are unchanged"
    )
    parser.add_argument("--shell", action="store_true", help="attach bash instead of claude")
    parser.add_argument("--image", default=environ.get("AGENTDOCK_IMAGE", DEFAULT_TAG), help="image tag")
    parser.add_argument(
        "--projects",
        default=environ.get("AGENTDOCK_PROJECTS", "agentdock-projects"),
        help="what to mount at /projects: a named volume (default agentdock-projects) or a host folder",
    )
    limits = parser.add_argument_group(
        "container limits and network (flag > environment > default)",
        "Every agent container runs with no capabilities, no-new-privileges and a read-only root.",
    )
    limits.add_argument(
        "--memory", help="memory limit per agent, swap included (AGENTDOCK_MEMORY; default 2g)"
    )
    limits.add_argument(
        "--pids-limit", help="processes+threads per agent (AGENTDOCK_PIDS_LIMIT; default 512)"
    )
    limits.add_argument("--cpus", help="CPUs per agent, e.g. 2 or 0.5 (AGENTDOCK_CPUS; default 2)")
    limits.add_argument(
        "--network-policy",
        choices=("open", "strict"),
        default=environ.get("AGENTDOCK_NETWORK_POLICY") or "open",
        help="open: internet, host and LAN; strict: internet plus the two server ports on the host, "
        "no other host port, no LAN (iptables, needs root) (AGENTDOCK_NETWORK_POLICY; default open)",
    )
    parser.add_argument("--ready-timeout", type=float, default=90.0, help="seconds to wait for readiness")
    parser.add_argument("--server-timeout", type=float, default=30.0, help="seconds to wait for the servers")
    parser.add_argument(
        "--prepare-context",
        action="store_true",
        help="copy agentdock into docker/dist/ for a manual docker build",
    )
    parser.add_argument(
        "--no-git",
        action="store_true",
        help="launch with the QMS only: no git-mcp (automatic when the project is not a git repository)",
    )
    parser.add_argument(
        "--no-host-certs",
        action="store_true",
        default=environ.get("AGENTDOCK_HOST_CERTS", "1") == "0",
        help="do not add the host's locally added CA certificates to the image build "
        "(default: add them, for TLS-intercepting proxies; also AGENTDOCK_HOST_CERTS=0)",
    )
    parser.add_argument(
        "--print-compose",
        action="store_true",
        help="do everything a launch does but start the container(s), then print a compose file that "
        "starts them exactly as ./launch.sh would (docker compose -f FILE up -d)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="show the image build output")
    add_multi_arguments(parser)
    return parser


def multi_options(
    args: argparse.Namespace,
    root: Path,
    servers: Servers,
    projects: str | Path,
    extra: Sequence[str],
    *,
    limits: ContainerLimits | None = None,
) -> MultiLaunchOptions:
    """How `launch_many` opens the windows: every window's ``./launch.sh <agent>`` gets the same
    project, ports, image, /projects, limits, network policy, --shell and --no-host-certs (not
    --rebuild/--no-attach: the image is built and the windows attach)."""
    limits = limits or ContainerLimits()
    passthrough = (
        *(("--shell",) if args.shell else ()),
        *("--qms-port", str(servers.qms_port)),
        *(("--git-port", str(servers.git_port)) if servers.git_port is not None else ("--no-git",)),
        *("--image", args.image, "--projects", str(projects)),
        *("--memory", format_bytes(limits.memory_bytes), "--pids-limit", str(limits.pids)),
        *("--cpus", f"{limits.cpus:g}", "--network-policy", args.network_policy),
        *(("--no-host-certs",) if args.no_host_certs else ()),
        *(("--", *extra) if extra else ()),
    )
    return MultiLaunchOptions(
        project_root=root,
        passthrough=passthrough,
        tmux=args.tmux,
        terminal=args.terminal,
        session=args.session,
    )


def _main(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> int:
    """``agentdock launch [agent ...] [options]``."""
    env = os.environ if environ is None else environ
    argv = list(argv)
    extra: tuple[str, ...] = ()
    if "--" in argv:  # after --: arguments for claude (or bash)
        cut = argv.index("--")
        argv, extra = argv[:cut], tuple(argv[cut + 1 :])
    parser = _launch_parser(env)
    args = parser.parse_intermixed_args(argv)
    agents: list[str] = args.agent or ["claude"]
    reporter = Reporter(verbose=args.verbose)
    if args.prepare_context:
        try:
            dist = prepare_context(agentdock_checkout())
        except LauncherError as exc:
            reporter.error(str(exc))
            return 1
        print(f"prepared {dist}; now: docker build -t {args.image} {dist.parent}")
        return 0
    if len(agents) == 1 and (args.tmux or args.terminal or args.session):
        reporter.error("--tmux, --terminal and --session open several agents at once; name two or more")
        return 2
    if args.print_compose and (args.no_attach or args.shell or extra):
        reporter.error("--print-compose starts nothing: --no-attach, --shell and `-- ARGS` do not apply")
        return 2
    if len(agents) > 1 and args.no_attach:
        reporter.error("--no-attach starts one agent; name a single agent with it")
        return 2
    try:
        limits = limits_from(args.memory, args.pids_limit, args.cpus, env)
    except LauncherError as exc:
        reporter.error(str(exc))
        return 2
    projects: str | Path = args.projects
    if "/" in str(projects):
        projects = Path(projects).expanduser().resolve()
        if not projects.is_dir():
            reporter.error(f"--projects {projects} is not a directory")
            return 2
    options = LaunchOptions(
        agent=agents[0],
        project_root=args.project_root,
        cwd=Path.cwd(),
        data_dir=default_data_dir(env),
        no_attach=args.no_attach,
        rebuild=args.rebuild,
        shell=args.shell,
        image=args.image,
        qms_port=args.qms_port,
        git_port=args.git_port,
        projects=projects,
        ready_timeout_s=args.ready_timeout,
        server_timeout_s=args.server_timeout,
        limits=limits,
        network_policy=args.network_policy,
        extra_args=extra,
        host_certs=not args.no_host_certs,
        git=not args.no_git,
    )
    try:
        with terminate_on_signals():
            if args.print_compose:
                sys.stdout.write(print_compose(options, agents, reporter, environ=env))
                return 0
            if len(agents) == 1:
                return launch(options, reporter, environ=env)
            # Refuse a missing terminal before minutes of image building, not after.
            detect_terminal(host_platform(env), requested=args.terminal, force_tmux=args.tmux)
            root, servers = prepare_many(options, agents, reporter)
            reporter.step(f"Opening a window per agent ({', '.join(agents)}) and one for the inbox watcher")
            return launch_many(
                agents, multi_options(args, root, servers, projects, extra, limits=limits), environ=env
            )
    except (LauncherError, InboxError) as exc:
        reporter.error(str(exc))
        return 1
    except Interrupted as exc:
        reporter.error(f"stopped by {exc}")
        return 128 + exc.signum
    except KeyboardInterrupt:
        reporter.error("interrupted")
        return 130


def _stop_main(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> int:
    """``agentdock stop``: list what runs for which project; stop this project's servers (--all: every
    project's; --containers: their agent containers too) and remove their strict network rules."""
    from agentdock.launcher.containers import existing_containers, project_key, remove_container
    from agentdock.launcher.netpolicy import release_strict, strict_network_in_use
    from agentdock.launcher.servers import stop_servers
    from agentdock.launcher.session import connect_docker

    env = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(prog="./launch.sh stop", description=stop_main.__doc__)
    _common(parser, env)
    parser.add_argument(
        "--containers", action="store_true", help="also remove the stopped projects' agent containers"
    )
    parser.add_argument(
        "--all", action="store_true", help="stop the servers of every project, not just this one"
    )
    args = parser.parse_args(list(argv))
    reporter = Reporter()
    data_dir = default_data_dir(env)
    running = _running_servers(data_dir)
    if running:
        reporter.step("Running servers, by project:")
        for project, what in running.items():
            reporter.info(f"{project}: {', '.join(what)}")
    if args.all:
        roots = list(running)
    else:
        try:
            roots = [
                resolve_project_root(
                    args.project_root, cwd=Path.cwd(), data_dir=data_dir, init=lambda _: None
                )
            ]
        except LauncherError as exc:
            if args.project_root is not None:
                reporter.error(str(exc))
                return 1
            roots = []  # no project here (and no demo yet): the listing above is the answer
            if not running:
                reporter.step("Nothing is running")

    def strict_in_use() -> bool:
        try:
            with connect_docker() as client:
                return strict_network_in_use(client)
        except LauncherError:
            return True  # cannot tell: keep the rejecting chains (fail closed)

    for root in roots:
        if args.containers:
            try:
                with connect_docker() as client:
                    for container in existing_containers(client, root):
                        reporter.step(f"Removing {container.name}")
                        remove_container(container)
            except LauncherError as exc:
                reporter.error(str(exc))
                return 1
        stopped = stop_servers(root)
        where = f"no pid files in {paths.run_dir(root)}"
        reporter.step(f"Stopped ({root}) " + (", ".join(stopped) if stopped else f"nothing ({where})"))
        try:
            removed = release_strict(project_key(root), strict_in_use)
        except LauncherError as exc:
            reporter.error(str(exc))
            return 1
        if removed:
            reporter.step(f"Removed ({root}) the strict network policy's " + ", ".join(removed))
    others = [str(r) for r in running if r not in roots]
    if others:
        reporter.info(f"still running for {', '.join(others)}: `./launch.sh stop --all` stops them too")
    return 0


def _running_servers(data_dir: Path) -> dict[Path, list[str]]:
    """Projects with ports on record whose servers run now: root -> ["qms-mcp (pid N, port P)", ...]."""
    from agentdock.launcher.ports import registered_projects
    from agentdock.launcher.servers import read_pid_file
    from agentdock.procinfo import pid_alive

    running: dict[Path, list[str]] = {}
    for root in registered_projects(data_dir):
        for command in ("qms-mcp", "git-mcp"):
            pid_file = paths.run_dir(root) / f"{command}.pid"
            pid = read_pid_file(pid_file)
            if pid is not None and pid_alive(pid):
                port = _pid_file_port(pid_file)
                running.setdefault(root, []).append(f"{command} (pid {pid}, port {port})")
    return running


def _pid_file_port(pid_file: Path) -> str:
    try:
        return str(json.loads(pid_file.read_text(encoding="utf-8")).get("port", "?"))
    except (OSError, ValueError, AttributeError):
        return "?"


def _doctor_main(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> int:
    """``agentdock doctor``: check each piece and say what to fix."""
    from agentdock.launcher.doctor import run_doctor

    env = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(prog="./launch.sh doctor", description=doctor_main.__doc__)
    _common(parser, env)
    parser.add_argument("--image", default=env.get("AGENTDOCK_IMAGE", DEFAULT_TAG))
    args = parser.parse_args(list(argv))
    return run_doctor(
        project_root=args.project_root,
        data_dir=default_data_dir(env),
        image=args.image,
        qms_port=args.qms_port,
        git_port=args.git_port,
        stream=sys.stdout,
    )


def main(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> int:
    """``agentdock``: see :func:`_main`; exit codes, Ctrl-C and errors follow :mod:`agentdock.clirun`."""
    return run_cli("agentdock launch", lambda: _main(argv, environ))


def stop_main(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> int:
    """``agentdock``: see :func:`_stop_main`; exit codes, Ctrl-C and errors follow :mod:`agentdock.clirun`."""
    return run_cli("agentdock stop", lambda: _stop_main(argv, environ))


def doctor_main(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> int:
    """``agentdock``: see :func:`_doctor_main`; exit codes, Ctrl-C and errors follow :mod:`agentdock.clirun`."""
    return run_cli("agentdock doctor", lambda: _doctor_main(argv, environ))
