"""agentdock.launcher: one agent's container and ``./launch.sh`` (``agentdock launch``/``stop``/``doctor``).

Reusable API (the soak harness launches containers through it, as ``./launch.sh`` does):

* `start_agent_container(client, AgentContainerSpec(layout=LayoutSpec(root, agent, token), image=...))`
  — all mounts, masks and overlays; refuses a second container for the agent; returns the container.
* `wait_until_ready(container, timeout_s)`, `remove_container(container)`, `existing_containers(client, root)`.
* `ensure_servers(server_specs(root, hosts), token)` — qms-mcp and git-mcp answering MCP ``initialize``,
  started in the background when they don't; `stop_servers(root)`.  Holds the project's
  ``servers.lock`` (in ``paths.run_dir(root)``), so two launches at once start each server once.
* `ensure_image(client, ImageSpec(repo=agentdock_checkout(), uid=..., gid=...))` — builds (from a
  private copy of the inputs, under a per-tag lock) when missing or when the inputs hash changed;
  `prepare_context(repo)` fills ``docker/dist`` for a manual ``docker build``.
* `provision_token(root, agent)`, `bridge_gateway(client)`, `connect_docker()`, `container_ids()`.
"""

from agentdock.launcher.containers import (
    AgentContainerSpec,
    container_name,
    existing_containers,
    remove_container,
    start_agent_container,
    wait_until_ready,
)
from agentdock.launcher.errors import (
    AgentAlreadyRunning,
    ConfigError,
    ContainerNotReady,
    DockerError,
    ImageBuildError,
    LauncherError,
    LockTimeout,
    ServerError,
    TokenError,
    UnsafeHostPath,
)
from agentdock.launcher.image import (
    ImageResult,
    ImageSpec,
    agentdock_checkout,
    container_ids,
    ensure_image,
    inputs_hash,
    prepare_context,
)
from agentdock.launcher.layout import ContainerLayout, LayoutSpec, plan_layout
from agentdock.launcher.servers import (
    Probe,
    ServerSpec,
    ensure_servers,
    mcp_initialize,
    server_specs,
    stop_servers,
)
from agentdock.launcher.session import (
    LaunchOptions,
    bridge_gateway,
    connect_docker,
    launch,
    provision_token,
)

__all__ = [
    "AgentAlreadyRunning",
    "AgentContainerSpec",
    "ConfigError",
    "ContainerLayout",
    "ContainerNotReady",
    "DockerError",
    "ImageBuildError",
    "ImageResult",
    "ImageSpec",
    "LaunchOptions",
    "LauncherError",
    "LayoutSpec",
    "LockTimeout",
    "Probe",
    "ServerError",
    "ServerSpec",
    "TokenError",
    "UnsafeHostPath",
    "agentdock_checkout",
    "bridge_gateway",
    "connect_docker",
    "container_ids",
    "container_name",
    "ensure_image",
    "ensure_servers",
    "existing_containers",
    "inputs_hash",
    "launch",
    "mcp_initialize",
    "plan_layout",
    "prepare_context",
    "provision_token",
    "remove_container",
    "server_specs",
    "start_agent_container",
    "stop_servers",
    "wait_until_ready",
]
