"""Errors of the launcher, one tree::

    LauncherError                      anything the launcher refuses or fails to do; says what to fix
    ├── ConfigError                    bad flag, unknown agent, unusable project root
    │   └── UnsafeHostPath             a path the container would mount is a link, the wrong kind or owner
    ├── DockerError                    the engine did not answer or refused a request
    │   ├── ImageBuildError            `docker build` failed (carries the build log tail)
    │   ├── AgentAlreadyRunning        a container for this agent and project exists
    │   └── ContainerNotReady          the container died or missed the readiness deadline (carries logs)
    ├── ServerError                    qms-mcp / git-mcp could not be started or did not become healthy
    ├── NetworkPolicyError             --network-policy strict could not be set or removed (iptables, root)
    ├── LockTimeout                    another launch held a step's lock (image, servers) for too long
    └── TokenError                     the agent's bearer token could not be provisioned

Foreign exceptions (docker.errors.*, httpx, OSError, subprocess) are translated
where they happen, once, with ``raise ... from exc``.
"""

from __future__ import annotations

__all__ = [
    "AgentAlreadyRunning",
    "ConfigError",
    "ContainerNotReady",
    "DockerError",
    "ImageBuildError",
    "LauncherError",
    "LockTimeout",
    "NetworkPolicyError",
    "ServerError",
    "TokenError",
    "UnsafeHostPath",
]


class LauncherError(Exception):
    """Base class: the message says what failed and what to do about it."""


class ConfigError(LauncherError):
    """A flag, agent name or project root that cannot be used."""


class UnsafeHostPath(ConfigError):
    """A project path the launcher would create, write or mount is not what it expects.

    An agent may have planted it (a symbolic link into the host, a file where a folder
    belongs); the launch is refused before anything is changed or mounted.
    """

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(
            f"refusing to launch: {path} {reason}; an agent (or a pushed commit) may have planted it. "
            "Look at it, remove it if you did not make it, then launch again."
        )
        self.path = path
        self.reason = reason


class DockerError(LauncherError):
    """The Docker engine did not answer or refused a request."""


class ImageBuildError(DockerError):
    """The image build failed; ``log_tail`` holds its last lines."""

    def __init__(self, message: str, log_tail: str = "") -> None:
        super().__init__(message + (f"\n--- build log (tail) ---\n{log_tail}" if log_tail else ""))
        self.log_tail = log_tail


class AgentAlreadyRunning(DockerError):
    """A second container for the same agent (and project) was refused."""

    def __init__(self, agent: str, container_name: str) -> None:
        super().__init__(
            f"agent {agent!r} already has a running container ({container_name}); "
            f"attach with: docker exec -it {container_name} claude   "
            f"or remove it with: docker rm -f {container_name}"
        )
        self.agent = agent
        self.container_name = container_name


class ContainerNotReady(DockerError):
    """The container exited or did not write its readiness marker in time; ``logs`` is its output."""

    def __init__(self, message: str, logs: str = "") -> None:
        super().__init__(message + (f"\n--- container logs ---\n{logs}" if logs else ""))
        self.logs = logs


class ServerError(LauncherError):
    """A host MCP server could not be started or never became healthy."""


class LockTimeout(LauncherError):
    """Another launch held the lock of a shared step (image, servers) past the bounded wait."""


class TokenError(LauncherError):
    """The agent's bearer token could not be provisioned."""


class NetworkPolicyError(LauncherError):
    """The strict network policy (iptables rules) could not be set, read or removed."""
