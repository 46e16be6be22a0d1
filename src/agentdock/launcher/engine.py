"""Plain context managers over a real Docker engine, for tests and the soak.

The pytest fixtures in ``tests/conftest.py`` are thin wrappers over these, so a
person can use the same code from a script::

    with docker_engine() as client, running_container(client, BASE_IMAGE, volumes=...) as c:
        print(c.exec_run(["cat", "/etc/os-release"]).output)

Foreign exceptions (``docker.errors.*``, ``requests``) are translated here, once.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import docker
import docker.errors

__all__ = [
    "BASE_IMAGE",
    "DockerUnavailable",
    "base_image",
    "docker_engine",
    "in_ci",
    "running_container",
]

#: The image the agent Dockerfile builds FROM; CI makes it locally when it can't be pulled.
BASE_IMAGE = "debian:bookworm-slim"

#: Label on every container the harness starts, so leftovers can be found and removed.
HARNESS_LABEL = "io.agentdock.harness"

#: Docker Engine API 1.41 (Docker 20.10) is the oldest engine we support; newer engines accept it.
DOCKER_API_VERSION = "1.41"


class DockerUnavailable(RuntimeError):
    """No Docker engine answered (not installed, not running, or not permitted)."""


def in_ci() -> bool:
    """True when running under CI (``CI=true``), where a missing engine is a failure."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def base_image() -> str:
    """The base image name, overridable with ``AGENTDOCK_BASE_IMAGE``."""
    return os.environ.get("AGENTDOCK_BASE_IMAGE", BASE_IMAGE)


def _probe_unix_socket(timeout_s: float) -> None:
    """Fail fast (and without leaking a socket, as the SDK does) when a unix-socket engine is absent."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        return
    path = host.removeprefix("unix://")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout_s)
        try:
            sock.connect(path)
        except OSError as exc:
            raise DockerUnavailable(f"cannot connect to {host}: {exc.strerror or exc}") from exc


@contextmanager
def docker_engine(timeout_s: float = 10.0) -> Iterator[Any]:
    """Yield a connected ``docker.DockerClient``; raise `DockerUnavailable` if none answers."""
    _probe_unix_socket(timeout_s)
    try:
        # A pinned API version skips the SDK's version probe, which leaks its socket when no engine answers.
        client = docker.from_env(timeout=int(timeout_s), version=DOCKER_API_VERSION)
    except docker.errors.DockerException as exc:
        raise DockerUnavailable(str(exc)) from exc
    try:
        client.ping()
    except docker.errors.DockerException as exc:
        client.close()
        raise DockerUnavailable(str(exc)) from exc
    except Exception as exc:  # requests' ConnectionError and friends, from the transport
        client.close()
        raise DockerUnavailable(f"{type(exc).__name__}: {exc}") from exc
    try:
        yield client
    finally:
        client.close()


@contextmanager
def running_container(
    client: Any,
    image: str,
    command: Sequence[str] = ("sleep", "infinity"),
    *,
    volumes: Mapping[str, Mapping[str, str]] | None = None,
    environment: Mapping[str, str] | None = None,
    name: str | None = None,
    **kwargs: Any,
) -> Iterator[Any]:
    """Run a detached container and remove it (forcefully) on exit, whatever happened.

    ``volumes`` uses the docker SDK shape: ``{host_path: {"bind": path, "mode": "ro"}}``.
    """
    labels = {HARNESS_LABEL: "1", **kwargs.pop("labels", {})}
    try:
        container = client.containers.run(
            image,
            list(command),
            detach=True,
            name=name or f"agentdock-test-{uuid.uuid4().hex[:10]}",
            volumes=dict(volumes or {}),
            environment=dict(environment or {}),
            labels=labels,
            **kwargs,
        )
    except docker.errors.ImageNotFound as exc:
        raise DockerUnavailable(f"image {image!r} is not present: {exc}") from exc
    try:
        yield container
    finally:
        with suppress(docker.errors.NotFound):
            container.remove(force=True)
