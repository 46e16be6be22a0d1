"""One ``./launch.sh`` run, step by step: engine, project, token, servers, image, container, attach.

Each step prints what it does and fails with a message that says what to fix.
``./launch.sh A B ...`` runs the shared steps (servers, image) once in
`prepare_many` before it opens a window per agent.
The container is removed on exit, Ctrl-C or SIGTERM (``--no-attach`` leaves it
running once it is ready); the host servers stay up for the next launch.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import docker.errors

from agentdock import paths
from agentdock.defaults import IMAGE_TAG
from agentdock.launcher.compose import compose_document, compose_service, render
from agentdock.launcher.containers import (
    AgentContainerSpec,
    existing_containers,
    project_key,
    remove_container,
    run_config,
    start_agent_container,
    wait_until_ready,
)
from agentdock.launcher.errors import AgentAlreadyRunning, DockerError, TokenError
from agentdock.launcher.hardening import ContainerLimits
from agentdock.launcher.hostprep import prepare_host
from agentdock.launcher.image import ImageSpec, agentdock_checkout, container_ids, ensure_image
from agentdock.launcher.layout import LayoutSpec, plan_layout
from agentdock.launcher.netpolicy import NETWORKS, apply_strict, ensure_network
from agentdock.launcher.ports import project_ports
from agentdock.launcher.project import is_git_work_tree, resolve_project_root, validate_agent, validate_agents
from agentdock.launcher.servers import ensure_servers, server_specs, servers_keep_root, stop_servers

__all__ = [
    "PASSTHROUGH_ENV",
    "Interrupted",
    "LaunchOptions",
    "Reporter",
    "Servers",
    "Shared",
    "agent_spec",
    "bridge_gateway",
    "connect_docker",
    "ensure_image_step",
    "ensure_server_step",
    "launch",
    "move_secrets_out",
    "passthrough_env",
    "plan_servers",
    "prepare_many",
    "print_compose",
    "provision_token",
    "stop_on_failure",
    "terminate_on_signals",
]

#: Variables a container may receive from the host environment or ``docker/.env``.
PASSTHROUGH_ENV = ("GH_TOKEN", "ANTHROPIC_API_KEY")


class Interrupted(BaseException):
    """SIGTERM/SIGHUP reached the launcher; unwinds so every cleanup runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextmanager
def terminate_on_signals() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into `Interrupted` for the duration (main thread only).

    Only the first one raises: a closed terminal window sends SIGHUP more than once
    (to the shell, then to its process group), and a repeat must not cut short the
    cleanup (removing the container) that the first one started.
    """
    fired = False

    def handler(signum: int, _frame: FrameType | None) -> None:
        nonlocal fired
        if fired:
            return
        fired = True
        raise Interrupted(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class Reporter:
    """Step-by-step messages on stderr.

    A closed terminal window hangs up the launcher's stderr: writes then fail
    (EIO), and must not stop the cleanup the hang-up started, so they are dropped.
    """

    def __init__(self, stream: TextIO | None = None, verbose: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.verbose = verbose

    def _write(self, line: str) -> None:
        with contextlib.suppress(OSError, ValueError):  # hung-up terminal, closed pipe or stream
            print(line, file=self.stream, flush=True)

    def step(self, message: str) -> None:
        self._write(f"==> {message}")

    def info(self, message: str) -> None:
        self._write(f"    {message}")

    def detail(self, message: str) -> None:
        if self.verbose:
            self._write(f"    | {message}")

    def error(self, message: str) -> None:
        self._write(f"agentdock: error: {message}")


@dataclass(frozen=True)
class LaunchOptions:
    agent: str = "claude"
    project_root: Path | None = None
    cwd: Path = field(default_factory=Path.cwd)
    data_dir: Path = Path("~/.local/share/agentdock")
    no_attach: bool = False
    rebuild: bool = False
    shell: bool = False
    image: str = IMAGE_TAG
    qms_port: int | None = None  # None: the project's own (launcher.ports)
    git_port: int | None = None
    projects: str | Path = "agentdock-projects"
    ready_timeout_s: float = 90.0
    server_timeout_s: float = 30.0
    limits: ContainerLimits = field(default_factory=ContainerLimits)
    network_policy: str = "open"  # or "strict" (netpolicy.py)
    environment: Mapping[str, str] = field(default_factory=dict)  # passed to the container
    extra_args: tuple[str, ...] = ()  # after `--`: appended to claude (or bash)
    host_certs: bool = True  # add the host's locally added CA certificates to the image build
    git: bool = True  # False: QMS only (also when the project is not a git repository)


@contextmanager
def connect_docker() -> Iterator[Any]:
    """A docker client for an engine that answers, else DockerError saying how to fix it."""
    from agentdock.launcher.engine import DockerUnavailable, docker_engine

    try:
        with docker_engine() as client:
            yield client
    except DockerUnavailable as exc:
        raise DockerError(
            f"Docker does not answer ({exc}); start the engine (e.g. `sudo systemctl start docker`) "
            "and make sure your user may use it"
        ) from exc


def bridge_gateway(client: Any) -> str | None:
    """The default bridge's gateway address (what ``host.docker.internal`` resolves to in containers)."""
    try:
        configs = client.networks.get("bridge").attrs.get("IPAM", {}).get("Config") or []
    except docker.errors.DockerException:
        return None
    for config in configs:
        gateway = config.get("Gateway")
        if gateway and ":" not in gateway:
            return str(gateway)
        subnet = config.get("Subnet")
        if subnet and ":" not in subnet:  # engines that omit the gateway use the subnet's first address
            return str(next(ipaddress.ip_network(subnet, strict=False).hosts()))
    return None


def provision_token(root: Path, agent: str) -> str:
    """The agent's bearer token (created on first use), kept in agentdock's data folder."""
    from agentdock.mcphost import AuthError, TokenStore

    try:
        return TokenStore(root).ensure(agent)
    except AuthError as exc:
        raise TokenError(
            f"cannot provision {agent}'s token in {paths.project_data_dir(root)}: {exc}"
        ) from exc
    except OSError as exc:
        raise TokenError(f"cannot provision {agent}'s token: {exc}") from exc


def move_secrets_out(root: Path, reporter: Reporter) -> None:
    """Take secrets an earlier version left in the project out of it, saying what moved."""
    from agentdock.mcphost import AuthError, migrate_legacy_secrets

    try:
        notes = migrate_legacy_secrets(root)
    except AuthError as exc:
        raise TokenError(str(exc)) from exc
    if notes:
        reporter.step("Moving secrets out of the project (one-time migration)")
        for note in notes:
            reporter.info(note)


def passthrough_env(env_file: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """``GH_TOKEN``/``ANTHROPIC_API_KEY`` from the environment, else from ``docker/.env`` (KEY=VALUE lines)."""
    values: dict[str, str] = {}
    try:
        lines = env_file.read_text(encoding="utf-8").splitlines()
    except OSError:
        lines = []
    for line in lines:
        key, sep, value = line.strip().partition("=")
        if sep and key.strip() in PASSTHROUGH_ENV and not key.startswith("#"):
            values[key.strip()] = value.strip().strip("'\"")
    for key in PASSTHROUGH_ENV:
        if environ.get(key):
            values[key] = environ[key]
    return {k: v for k, v in values.items() if v}


def _attach(container: Any, project_dir: str, options: LaunchOptions) -> int:
    docker_cli = shutil.which("docker")
    if docker_cli is None:
        raise DockerError("the `docker` command is needed to attach a terminal; install the Docker CLI")
    interactive = ["-i"] + (["-t"] if sys.stdin.isatty() and sys.stdout.isatty() else [])
    env = ["-e", f"TERM={os.environ.get('TERM', 'xterm-256color')}"]
    program = ["bash"] if options.shell else ["claude"]
    argv = [
        docker_cli,
        "exec",
        *interactive,
        *env,
        "-w",
        project_dir,
        container.name,
        *program,
        *options.extra_args,
    ]
    proc = subprocess.Popen(argv)
    try:
        return proc.wait()
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@dataclass(frozen=True)
class Shared:
    """What the shared steps (servers, image) leave for a container launch."""

    repo: Path  # the agentdock checkout (docker/.env lives there)
    uid: int  # the image user's uid/gid
    gid: int


@dataclass(frozen=True)
class Servers:
    """Where a launch's servers listen, and which of them this launch started."""

    qms_port: int
    git_port: int | None  # None: the git gateway is off
    started: tuple[str, ...] = ()  # console scripts this launch started (a failed launch stops them)


def plan_servers(root: Path, options: LaunchOptions, reporter: Reporter) -> Servers:
    """The project's ports (chosen once, recorded; flags win) and whether git-mcp runs."""
    ports = project_ports(root, options.data_dir.expanduser(), qms=options.qms_port, git=options.git_port)
    git_port: int | None = ports.git
    if not options.git:
        reporter.info("the git gateway is off (--no-git): agents get the QMS only")
        git_port = None
    elif not is_git_work_tree(root):
        reporter.info(
            f"the git gateway is off: {root} is not a git repository (run `git init` there to turn it on); "
            "agents get the QMS only"
        )
        git_port = None
    return Servers(ports.qms, git_port)


def ensure_server_step(
    client: Any, root: Path, token: str, options: LaunchOptions, reporter: Reporter, *, servers: Servers
) -> Servers:
    """qms-mcp (and git-mcp unless it is off) answering; returns which of them this launch started."""
    names = "qms-mcp, git-mcp" if servers.git_port is not None else "qms-mcp"
    reporter.step(f"Checking the MCP servers ({names})")
    gateway = bridge_gateway(client)
    hosts = ["127.0.0.1"] + ([gateway] if gateway else [])
    if gateway is None:
        reporter.info("warning: no Docker bridge gateway found; servers bind 127.0.0.1 only")
    keep_root = servers_keep_root(root)
    if keep_root:
        reporter.info(
            f"warning: you run ./launch.sh as root and root owns {root}, so the servers stay root "
            "(--allow-root); chown the project to a user, or launch as that user, and they run as that user"
        )
    specs = server_specs(root, hosts, servers.qms_port, servers.git_port, allow_root=keep_root)
    probes = ensure_servers(specs, token, timeout_s=options.server_timeout_s, on_event=reporter.info)
    if options.network_policy == "strict":
        ports = [s.port for s in specs]
        reporter.step("Setting the strict network policy (iptables)")
        apply_strict(ports, project_key(root))
        reporter.info(
            f"{NETWORKS['strict'].name}: host ports {', '.join(map(str, ports))} only; no LAN, internet allowed"
        )
    return replace(servers, started=tuple(s.command for s in specs if probes[s.name].started))


@contextmanager
def stop_on_failure(client: Any, root: Path, servers: Servers, reporter: Reporter) -> Iterator[None]:
    """A launch that fails before its agent is ready stops the servers it started — unless an
    agent container of the project exists meanwhile (another launch uses them)."""
    try:
        yield
    except BaseException:
        if servers.started and not existing_containers(client, root):
            reporter.info(f"stopping what this launch started: {', '.join(servers.started)}")
            stop_servers(root, servers.started)
        raise


def ensure_image_step(client: Any, options: LaunchOptions, reporter: Reporter) -> Shared:
    """The agent image up to date (built when missing or when its inputs changed)."""
    reporter.step(f"Checking the image {options.image}")
    repo = agentdock_checkout()
    uid, gid = container_ids()
    image = ensure_image(
        client,
        ImageSpec(repo=repo, tag=options.image, uid=uid, gid=gid, host_certs=options.host_certs),
        rebuild=options.rebuild,
        on_line=reporter.detail,
        on_wait=reporter.info,
    )
    verb = f"built ({image.reason})" if image.built else "up to date"
    reporter.info(f"{image.tag} {verb}, {image.size_bytes / 1e6:.0f} MB")
    return Shared(repo=repo, uid=uid, gid=gid)


def prepare_many(options: LaunchOptions, agents: Sequence[str], reporter: Reporter) -> tuple[Path, Servers]:
    """Before ``./launch.sh A B ...`` opens its windows: resolve the project, refuse unknown agents,
    provision every agent's token, start the servers and build the image — once, here, so the
    per-window launches find everything ready.  Returns the project root and its servers."""
    reporter.step("Resolving the project")
    root = resolve_project_root(options.project_root, cwd=options.cwd, data_dir=options.data_dir.expanduser())
    names = validate_agents(root, agents)
    reporter.info(f"project {root}, agents {', '.join(names)}")
    servers = plan_servers(root, options, reporter)

    reporter.step("Checking Docker")
    with connect_docker() as client:
        reporter.info(f"engine {client.version().get('Version', '?')} answers")
        move_secrets_out(root, reporter)
        reporter.step("Provisioning the agents' tokens")
        tokens = [provision_token(root, agent) for agent in names]
        reporter.info(f"tokens under {paths.project_data_dir(root)}/agents/<agent>/ (outside the project)")
        servers = ensure_server_step(client, root, tokens[0], options, reporter, servers=servers)
        with stop_on_failure(client, root, servers, reporter):
            ensure_image_step(client, options, reporter)
    return root, servers


def launch(options: LaunchOptions, reporter: Reporter, *, environ: Mapping[str, str] | None = None) -> int:
    """Run every step of a launch; return the attached program's exit status (0 for --no-attach).

    A launch that fails before the agent is ready removes its container and stops the
    servers it started (`stop_on_failure`); once attached, the servers stay up until
    ``./launch.sh stop``.
    """
    environ = os.environ if environ is None else environ
    reporter.step("Resolving the project")
    root = resolve_project_root(options.project_root, cwd=options.cwd, data_dir=options.data_dir.expanduser())
    agent = validate_agent(root, options.agent)
    reporter.info(f"project {root}, agent {agent}")
    servers = plan_servers(root, options, reporter)

    reporter.step("Checking Docker")
    with connect_docker() as client:
        reporter.info(f"engine {client.version().get('Version', '?')} answers")

        move_secrets_out(root, reporter)
        reporter.step(f"Provisioning {agent}'s token")
        token = provision_token(root, agent)
        reporter.info(f"token in {paths.agent_data_dir(root, agent)} (outside the project)")
        servers = ensure_server_step(client, root, token, options, reporter, servers=servers)
        with stop_on_failure(client, root, servers, reporter):
            shared = ensure_image_step(client, options, reporter)
            container = _start_ready(
                client,
                root,
                agent,
                token,
                options=options,
                servers=servers,
                shared=shared,
                reporter=reporter,
                environ=environ,
            )
        return _use(container, options, reporter)


def agent_spec(
    root: Path,
    agent: str,
    token: str,
    *,
    options: LaunchOptions,
    servers: Servers,
    shared: Shared,
    environment: Mapping[str, str],
) -> AgentContainerSpec:
    """The container a launch of ``agent`` starts (also what ``--print-compose`` describes)."""
    return AgentContainerSpec(
        layout=LayoutSpec(
            root=root,
            agent=agent,
            token=token,
            qms_port=servers.qms_port,
            git_port=servers.git_port,
            projects=options.projects,
            ssh_dir=Path.home() / ".ssh",
        ),
        image=options.image,
        uid=shared.uid,
        gid=shared.gid,
        environment=environment,
        limits=options.limits,
        network_policy=options.network_policy,
    )


def print_compose(
    options: LaunchOptions, agents: Sequence[str], reporter: Reporter, *, environ: Mapping[str, str]
) -> str:
    """``./launch.sh --print-compose``: every step of a launch but the container's start, then the
    compose file that starts each agent's container exactly as the launcher would.

    Host folders and overlays are written (compose cannot); the servers run and the image is built
    as for a launch; an agent whose container already runs is refused.
    """
    root, servers = prepare_many(options, agents, reporter)
    reporter.step("Writing the compose file")
    services: dict[str, dict[str, Any]] = {}
    volumes: list[str] = []
    with connect_docker() as client:
        uid, gid = container_ids()
        shared = Shared(repo=agentdock_checkout(), uid=uid, gid=gid)
        # the variables a launch would pass on now, named (compose reads their values when it starts)
        passed = tuple(passthrough_env(shared.repo / "docker" / ".env", environ))
        network = ensure_network(client, options.network_policy)
        for agent in validate_agents(root, agents):
            for old in existing_containers(client, root, agent):
                if old.status in {"running", "restarting", "paused", "created"}:
                    raise AgentAlreadyRunning(agent, old.name)
            token = provision_token(root, agent)
            spec = agent_spec(
                root, agent, token, options=options, servers=servers, shared=shared, environment={}
            )
            layout = plan_layout(spec.layout)
            prepare_host(layout, uid=spec.uid, gid=spec.gid)
            services[agent] = compose_service(run_config(spec, layout, network.name), passthrough=passed)
            volumes += [b.source for b in layout.binds if b.volume]
    header = (
        f"Agent containers for {root} ({', '.join(services)}), made by ./launch.sh --print-compose:\n"
        "the same mounts, masks, environment, hardening, limits, network and labels as ./launch.sh.\n"
        "Start:  docker compose -f FILE up -d   (servers and image are ready: this command made them)\n"
        "Attach: docker compose -f FILE exec AGENT claude      Stop: docker compose -f FILE down\n"
        "Passed on by name only (compose reads the values from its environment when it starts the\n"
        f"container; nothing secret is in this file): {', '.join(passed) or 'none'}.\n"
        "Regenerate after changing agentdock, the project's ports or the agent's definition."
    )
    return render(compose_document(services, network.name, volumes), header)


def _start_ready(
    client: Any,
    root: Path,
    agent: str,
    token: str,
    *,
    options: LaunchOptions,
    servers: Servers,
    shared: Shared,
    reporter: Reporter,
    environ: Mapping[str, str],
) -> Any:
    """Start the agent's container and wait until it is ready; on failure it is removed."""
    reporter.step(f"Starting {agent}'s container")
    environment = {**passthrough_env(shared.repo / "docker" / ".env", environ), **options.environment}
    spec = agent_spec(
        root, agent, token, options=options, servers=servers, shared=shared, environment=environment
    )
    container = start_agent_container(
        client, spec, on_stale=lambda name: reporter.info(f"removing stopped leftover {name}")
    )
    try:
        reporter.info(
            f"container {container.name} ({options.limits.describe()}, "
            f"network {NETWORKS[options.network_policy].name})"
        )
        reporter.step("Waiting for the container to be ready")
        wait_until_ready(container, options.ready_timeout_s)
    except BaseException:
        reporter.step(f"Removing container {container.name}")
        remove_container(container)
        raise
    return container


def _use(container: Any, options: LaunchOptions, reporter: Reporter) -> int:
    """Attach to the ready container (removed when the session ends), or leave it for ``docker exec``."""
    project_dir = container.attrs.get("Config", {}).get("WorkingDir") or "/"
    if options.no_attach:
        program = "bash" if options.shell else "claude"
        reporter.step("Ready (not attached)")
        reporter.info(f"attach:  docker exec -it -w {project_dir} {container.name} {program}")
        reporter.info(f"remove:  docker rm -f {container.name}")
        print(container.name, flush=True)
        return 0
    try:
        reporter.step(
            f"Attaching ({'bash' if options.shell else 'claude'}); the container goes when you leave"
        )
        return _attach(container, project_dir, options)
    finally:
        reporter.step(f"Removing container {container.name}")
        remove_container(container)
