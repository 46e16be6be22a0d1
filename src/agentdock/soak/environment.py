"""What every soak launch shares: a throwaway QMS project, its host servers, the image, the bridge.

`open_environment` sets it up once, the way ``./launch.sh`` would — through the
launcher's own API (``init_demo_project``, ``provision_token``,
``ensure_servers``, ``ensure_image``) — but on a temporary project and on free
ports, so a soak never touches the user's project or running servers.  Agents
are lent from a pool (the launcher allows one container per agent and
project), one per concurrent launch.  ``restart_servers`` stops and restarts the
host servers (the ``restart`` profile).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from agentdock import paths
from agentdock.defaults import child_env
from agentdock.launcher import (
    ImageSpec,
    LauncherError,
    agentdock_checkout,
    bridge_gateway,
    connect_docker,
    container_ids,
    ensure_image,
    ensure_servers,
    provision_token,
    server_specs,
    stop_servers,
)
from agentdock.launcher.image import DEFAULT_TAG
from agentdock.launcher.project import init_demo_project
from agentdock.launcher.servers import servers_keep_root
from agentdock.soak.errors import SoakSetupError

__all__ = ["AGENT_POOL", "EnvironmentSettings", "SoakEnvironment", "open_environment"]

#: Agents lent to concurrent launches (``qms init`` creates all of them).
AGENT_POOL: tuple[str, ...] = ("claude", "qa", "tu_ui", "tu_scene")


@dataclass(frozen=True, slots=True)
class EnvironmentSettings:
    """How to set up the shared parts; resolved once in ``main()``."""

    workers: int = 1
    image: str = DEFAULT_TAG
    rebuild: bool = False
    server_timeout_s: float = 60.0
    keep_project: bool = False
    #: more flags for both servers (the session soak's ``--session-lifetime``)
    server_args: tuple[str, ...] = ()
    #: ``QMS/.meta/limits.json`` for the throw-away project, written before the servers start (the
    #: person's file: the session soak raises the per-agent create rate to what its sessions create)
    qms_limits: dict[str, int] | None = None


@dataclass
class SoakEnvironment:
    """The shared, running parts."""

    client: Any
    root: Path
    gateway: str
    image: str  # the image id, pinned for the run
    image_tag: str
    uid: int
    gid: int
    ports: dict[str, int]
    tokens: dict[str, str]
    docker_cli: str
    server_timeout_s: float
    projects_dir: Path
    server_args: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)
    restarts: int = 0
    _pool: list[str] = field(default_factory=list)
    _pool_ready: anyio.Semaphore | None = None
    _restart_lock: anyio.Lock = field(default_factory=anyio.Lock)

    @asynccontextmanager
    async def agent(self) -> AsyncIterator[str]:
        """Borrow an agent no other launch is using."""
        assert self._pool_ready is not None
        async with self._pool_ready:
            name = self._pool.pop()
            try:
                yield name
            finally:
                self._pool.append(name)

    def _specs(self) -> list[Any]:
        return server_specs(
            self.root,
            ["127.0.0.1"],
            self.ports["qms"],
            self.ports["git"],
            allow_root=servers_keep_root(self.root),
            extra_args=self.server_args,
        )

    async def restart_servers(self, commands: tuple[str, ...] = ("qms-mcp", "git-mcp")) -> dict[str, float]:
        """Stop ``commands`` (default both servers) and start them again (bounded); one restart at a time.

        Returns how long the servers took to stop and to answer again (ms): the outage a restart causes.
        """
        async with self._restart_lock:
            token = next(iter(self.tokens.values()))
            began = time.perf_counter()
            await anyio.to_thread.run_sync(stop_servers, self.root, commands)
            stopped = time.perf_counter()
            await anyio.to_thread.run_sync(
                lambda: ensure_servers(self._specs(), token, timeout_s=self.server_timeout_s)
            )
            self.restarts += 1
            return {"stop_ms": _ms(began, stopped), "start_ms": _ms(stopped, time.perf_counter())}


def _ms(start: float, end: float) -> float:
    return round((end - start) * 1000, 1)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _gateway(client: Any) -> str:
    """The bridge gateway (``host.docker.internal`` in containers), as the launcher finds it."""
    found = bridge_gateway(client)
    if not found:
        raise SoakSetupError("the Docker bridge network has no IPv4 gateway or subnet")
    return found


def _check_bindable(address: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((address, 0))
        except OSError as exc:
            raise SoakSetupError(f"cannot listen on the Docker bridge gateway {address}: {exc}") from exc


def _git_init(root: Path) -> None:
    """git-mcp serves a git working tree: make the throwaway project one, unless ``qms init``/the launcher did."""
    if (root / ".git").exists():
        return
    git = shutil.which("git")
    if git is None:
        raise SoakSetupError("git is needed (git-mcp serves a git working tree)")
    identity = ["-c", "user.name=agentdock soak", "-c", "user.email=soak@agentdock.invalid"]
    for argv in (["init", "-q"], ["add", "-A"], [*identity, "commit", "-q", "-m", "soak project"]):
        done = subprocess.run(
            [git, *argv], cwd=root, capture_output=True, text=True, timeout=60, check=False, env=child_env()
        )
        if done.returncode != 0:
            raise SoakSetupError(f"git {' '.join(argv)} in {root} failed: {done.stderr.strip()}")


def _setup(
    client: Any, settings: EnvironmentSettings, root: Path, say: Callable[[str], None]
) -> SoakEnvironment:
    docker_cli = shutil.which("docker")
    if docker_cli is None:
        raise SoakSetupError(
            "the `docker` command is needed (the soak runs `docker exec` like a person would)"
        )
    gateway = _gateway(client)
    _check_bindable(gateway)
    say(f"project {root} (qms init)")
    init_demo_project(root)
    if settings.qms_limits is not None:
        limits = paths.qms_dir(root) / ".meta" / "limits.json"
        limits.write_text(json.dumps(settings.qms_limits, indent=2) + "\n", encoding="utf-8")
    _git_init(root)
    agents = list(AGENT_POOL[: max(1, settings.workers)])
    tokens = {agent: provision_token(root, agent) for agent in agents}
    ports = {"qms": _free_port(), "git": _free_port()}
    specs = server_specs(
        root,
        ["127.0.0.1"],
        ports["qms"],
        ports["git"],
        allow_root=servers_keep_root(root),
        extra_args=settings.server_args,
    )
    say(f"starting qms-mcp on 127.0.0.1:{ports['qms']} and git-mcp on 127.0.0.1:{ports['git']}")
    ensure_servers(specs, tokens[agents[0]], timeout_s=settings.server_timeout_s, on_event=say)
    uid, gid = container_ids()
    (root.parent / "projects").mkdir(exist_ok=True)
    if os.geteuid() == 0:
        os.chown(root.parent / "projects", uid, gid)
    say(f"checking the image {settings.image} (builds when its inputs changed)")
    image = ensure_image(
        client,
        ImageSpec(repo=agentdock_checkout(), tag=settings.image, uid=uid, gid=gid),
        rebuild=settings.rebuild,
    )
    say(f"image {image.tag}: {'built, ' + image.reason if image.built else 'up to date'}")
    # Pin the image by id: another process rebuilding the tag mid-run must not change what we measure.
    image_id = str(client.images.get(image.tag).id)
    env = SoakEnvironment(
        client=client,
        root=root,
        gateway=gateway,
        image=image_id,
        image_tag=image.tag,
        uid=uid,
        gid=gid,
        ports=ports,
        tokens=tokens,
        docker_cli=docker_cli,
        server_timeout_s=settings.server_timeout_s,
        projects_dir=root.parent / "projects",
        server_args=settings.server_args,
        _pool=list(reversed(agents)),
        _pool_ready=anyio.Semaphore(len(agents)),
    )
    env.notes.append(
        f"image {image.tag} = {image_id[:19]} (inputs {image.inputs_hash[:12]}), bridge gateway {gateway}"
    )
    say(env.notes[-1])
    return env


@asynccontextmanager
async def open_environment(
    settings: EnvironmentSettings, say: Callable[[str], None] = lambda _: None
) -> AsyncIterator[SoakEnvironment]:
    """Set up the shared parts; tear them down (servers stopped, project removed) on exit."""
    async with AsyncExitStack() as stack:
        tmp = Path(tempfile.mkdtemp(prefix="agentdock-soak-"))
        if not settings.keep_project:
            stack.callback(shutil.rmtree, tmp, True)
        root = tmp / "project"
        try:
            client = stack.enter_context(connect_docker())
        except LauncherError as exc:
            raise SoakSetupError(str(exc)) from exc

        async def stop() -> None:
            await anyio.to_thread.run_sync(stop_servers, root)

        stack.push_async_callback(stop)
        try:
            env = await anyio.to_thread.run_sync(_setup, client, settings, root, say)
        except LauncherError as exc:
            raise SoakSetupError(f"{type(exc).__name__}: {exc}") from exc
        yield env
