"""Agent containers: start one with its full layout, refuse a second, wait for readiness, remove.

This is the API the soak harness uses to launch containers exactly as
``./launch.sh`` does::

    spec = AgentContainerSpec(layout=LayoutSpec(root, "qa", token), image="claude-agent")
    container = start_agent_container(client, spec)       # SETUP_ONLY=1, detached
    wait_until_ready(container, timeout_s=60)
    ...
    remove_container(container)

Every container gets least privilege (`hardening.run_options`: no capabilities,
no-new-privileges, read-only root with tmpfs scratch, ``spec.limits``) and joins the
agents' network of ``spec.network_policy`` (`netpolicy.ensure_network`; for ``strict``
the caller sets the firewall rules first with `netpolicy.apply_strict`).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import docker.errors
from docker.types import Mount

from agentdock.defaults import IMAGE_TAG
from agentdock.launcher.errors import AgentAlreadyRunning, ContainerNotReady, DockerError, UnsafeHostPath
from agentdock.launcher.hardening import ContainerLimits, run_options
from agentdock.launcher.hostprep import prepare_host, verify_host
from agentdock.launcher.layout import ContainerLayout, LayoutSpec, plan_layout
from agentdock.launcher.netpolicy import LABEL_POLICY, ensure_network
from agentdock.launcher.project import container_project_dir

__all__ = [
    "LABEL_AGENT",
    "LABEL_PROJECT",
    "LABEL_ROLE",
    "READY_FILE",
    "AgentContainerSpec",
    "container_name",
    "existing_containers",
    "project_key",
    "remove_container",
    "run_config",
    "start_agent_container",
    "wait_until_ready",
]

LABEL_ROLE = "io.agentdock.role"
LABEL_AGENT = "io.agentdock.agent"
LABEL_PROJECT = "io.agentdock.project"
READY_FILE = "/run/agentdock/ready"


@dataclass(frozen=True)
class AgentContainerSpec:
    """Everything `start_agent_container` needs; ``layout`` decides the filesystem."""

    layout: LayoutSpec
    image: str = IMAGE_TAG
    uid: int = 1000  # the image's user; owns the agent's writable folders when the host runs as root
    gid: int = 1000
    setup_only: bool = True
    environment: Mapping[str, str] = field(default_factory=dict)  # e.g. GH_TOKEN
    name: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    init: bool = True
    limits: ContainerLimits = field(default_factory=ContainerLimits)  # memory, pids, cpus
    read_only_root: bool = True  # tmpfs scratch space where Claude Code writes (hardening.py)
    network_policy: str = "open"  # "strict": the caller has set the rules (netpolicy.apply_strict)


def project_key(root: Any) -> str:
    """A short stable id of a project root (labels and names)."""
    return hashlib.sha256(str(root).encode("utf-8")).hexdigest()[:10]


def container_name(spec: AgentContainerSpec) -> str:
    if spec.name:
        return spec.name
    root = spec.layout.root
    return f"agentdock-{container_project_dir(root).lstrip('/')}-{project_key(root)[:6]}-{spec.layout.agent}"


def existing_containers(client: Any, root: Any, agent: str | None = None) -> list[Any]:
    """Containers (any state) the launcher started for this project (and agent)."""
    filters = [f"{LABEL_ROLE}=agent", f"{LABEL_PROJECT}={project_key(root)}"]
    if agent is not None:
        filters.append(f"{LABEL_AGENT}={agent}")
    try:
        # ignore_removed: a container removed between the listing and its inspection (another
        # launcher cleaning up) is skipped instead of failing the whole listing with a 404
        return list(client.containers.list(all=True, filters={"label": filters}, ignore_removed=True))
    except docker.errors.DockerException as exc:
        raise DockerError(f"cannot list containers: {exc}") from exc


def _mounts(layout: ContainerLayout) -> list[Mount]:
    return [
        Mount(b.target, b.source, type="volume" if b.volume else "bind", read_only=b.read_only)
        for b in layout.binds
    ]


def run_config(spec: AgentContainerSpec, layout: ContainerLayout, network: str) -> dict[str, Any]:
    """Every keyword argument of ``client.containers.run`` for ``spec`` (pure).

    The one description of an agent container: `start_agent_container` passes it to Docker,
    `compose.compose_service` turns it into a compose service (``./launch.sh --print-compose``).
    """
    agent = spec.layout.agent
    hardening = run_options(spec.limits, uid=spec.uid, gid=spec.gid, read_only_root=spec.read_only_root)
    tmpfs = {**hardening.pop("tmpfs", {}), **layout.tmpfs}
    return {
        "image": spec.image,
        "detach": True,
        "name": container_name(spec),
        "hostname": f"{agent.replace('_', '-')}-agent",
        "mounts": _mounts(layout),
        "tmpfs": tmpfs,
        "network": network,
        **hardening,
        "environment": {
            **layout.environment,
            **spec.environment,
            "SETUP_ONLY": "1" if spec.setup_only else "0",
        },
        "working_dir": layout.project_dir,
        "extra_hosts": {"host.docker.internal": "host-gateway"},
        "labels": {
            LABEL_ROLE: "agent",
            LABEL_AGENT: agent,
            LABEL_PROJECT: project_key(spec.layout.root),
            LABEL_POLICY: spec.network_policy,
            **spec.labels,
        },
        "init": spec.init,
        "stdin_open": True,
        "tty": False,
    }


def start_agent_container(
    client: Any, spec: AgentContainerSpec, *, on_stale: Callable[[str], None] | None = None
) -> Any:
    """Start the agent's container detached (``SETUP_ONLY=1`` by default) and return it.

    Refuses (AgentAlreadyRunning) when a running container exists for the same
    agent and project; a stopped leftover is removed first (reported through
    ``on_stale``).  Host folders, overlays and stubs are prepared here, without following
    links (UnsafeHostPath when a mounted path is not what it should be); a mounted folder
    replaced while the container started gets the container removed and the same refusal.
    """
    root, agent = spec.layout.root, spec.layout.agent
    for old in existing_containers(client, root, agent):
        if old.status in {"running", "restarting", "paused", "created"}:
            raise AgentAlreadyRunning(agent, old.name)
        if on_stale is not None:
            on_stale(old.name)
        remove_container(old)
    layout = plan_layout(spec.layout)
    host = prepare_host(layout, uid=spec.uid, gid=spec.gid)
    network = ensure_network(client, spec.network_policy)
    try:
        container = client.containers.run(**run_config(spec, layout, network.name))
    except docker.errors.ImageNotFound as exc:
        raise DockerError(
            f"image {spec.image!r} is not present (build it with ./launch.sh --rebuild)"
        ) from exc
    except docker.errors.APIError as exc:
        if exc.status_code == 409:  # name taken: another launcher won the race
            raise AgentAlreadyRunning(agent, container_name(spec)) from exc
        raise DockerError(
            f"cannot start the {agent} container from {spec.image}: {exc.explanation or exc}"
        ) from exc
    except docker.errors.DockerException as exc:
        raise DockerError(f"cannot start the {agent} container: {exc}") from exc
    try:
        verify_host(host)
    except UnsafeHostPath:
        remove_container(container)
        raise
    return container


def _logs(container: Any, tail: int = 60) -> str:
    try:
        return bytes(container.logs(tail=tail)).decode("utf-8", "replace")
    except docker.errors.DockerException as exc:
        return f"(logs unavailable: {exc})"


def wait_until_ready(
    container: Any,
    timeout_s: float = 60.0,
    *,
    poll_s: float = 0.25,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Return once the entrypoint wrote its readiness marker; raise ContainerNotReady (with logs) otherwise."""
    deadline = clock() + timeout_s
    while True:
        try:
            container.reload()
            if container.status in {"exited", "dead"}:
                code = container.attrs.get("State", {}).get("ExitCode")
                raise ContainerNotReady(
                    f"container {container.name} exited ({code}) before it was ready", _logs(container)
                )
            if (
                container.status == "running"
                and container.exec_run(["test", "-f", READY_FILE]).exit_code == 0
            ):
                return
        except docker.errors.NotFound as exc:
            raise ContainerNotReady(f"container {container.name} disappeared before it was ready") from exc
        except docker.errors.APIError as exc:
            if exc.status_code != 409:  # 409: exec into a container that is just stopping
                raise DockerError(f"cannot check {container.name}: {exc}") from exc
        if clock() >= deadline:
            raise ContainerNotReady(
                f"container {container.name} not ready after {timeout_s:.0f}s", _logs(container)
            )
        sleep(poll_s)


def remove_container(container: Any) -> None:
    """Remove the container forcefully; already gone is fine."""
    try:
        container.remove(force=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        if exc.status_code == 409 and "already in progress" in str(exc):
            return
        raise DockerError(f"cannot remove container {container.name}: {exc}") from exc
