"""Least privilege for agent containers: the ``docker run`` options every agent container gets.

An agent is assumed prompt-injected, so its container is the second line of defence:

* **no capabilities** (``cap_drop=ALL``, nothing added).  The image's entrypoint runs as the
  unprivileged agent user from the first instruction (``USER`` in the Dockerfile): it chowns
  nothing, binds no low port and changes no uid, so it needs none.  The launcher hands the
  agent's writable host folders to that uid before the start (``layout.prepare_host``).
* **no-new-privileges**, and the image carries no setuid/setgid file (stripped in the
  Dockerfile): nothing inside can gain privileges through ``execve``.
* **a read-only root filesystem** with tmpfs where the agent writes scratch data — measured
  with Claude Code 2.1.332 (``claude --version``, ``claude mcp list``, ``claude -p`` against a
  dead ``ANTHROPIC_BASE_URL``): it writes only ``/tmp`` (``claude-<uid>``, ``cc-socks``), its
  config dir (a bind mount) and ``$HOME`` (``.gitconfig`` from the entrypoint, ``gh`` state,
  caches), plus the readiness marker in ``/run/agentdock``.
* **a pids limit, a memory limit (swap included) and a CPU quota**: one agent cannot fork-bomb
  or exhaust the host.  tmpfs pages count against the memory limit.

`ContainerLimits` is resolved once (flag > ``AGENTDOCK_*`` environment > default) by the CLI;
`run_options` turns it into keyword arguments of ``client.containers.run``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agentdock.launcher.errors import ConfigError
from agentdock.launcher.layout import CONTAINER_HOME

__all__ = [
    "DEFAULT_CPUS",
    "DEFAULT_MEMORY",
    "DEFAULT_PIDS",
    "ContainerLimits",
    "format_bytes",
    "limits_from",
    "parse_memory",
    "run_options",
    "scratch_tmpfs",
]

#: Defaults sized for seven agents on a laptop (see docs/security/containers.md for the
#: measurements): Claude Code idles at ~200-300 MB and rarely passes 1 GB; 2 GiB leaves room for
#: a test run or a build, and seven limits of 2 GiB are a ceiling, not a reservation.
DEFAULT_MEMORY = "2g"
DEFAULT_PIDS = 512
DEFAULT_CPUS = 2.0

_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)i?b?\s*$", re.IGNORECASE)
#: Docker refuses a memory limit below 6 MiB.
_MIN_MEMORY = 6 * 1024**2


def parse_memory(text: str) -> int:
    """``"2g"``, ``"512m"``, ``"1.5GiB"``, ``"268435456"`` -> bytes; ConfigError otherwise."""
    match = _MEMORY.match(str(text))
    if match is None:
        raise ConfigError(f"memory limit {text!r} is not a size like 2g, 512m or 1073741824")
    value = int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    if value < _MIN_MEMORY:
        raise ConfigError(f"memory limit {text!r} is below Docker's minimum of 6m")
    return value


def format_bytes(value: int) -> str:
    for unit in ("g", "m", "k"):
        size = _UNITS[unit]
        if value >= size and value % size == 0:
            return f"{value // size}{unit}"
    return str(value)


@dataclass(frozen=True)
class ContainerLimits:
    """Resource limits of one agent container."""

    memory_bytes: int = 2 * 1024**3
    pids: int = DEFAULT_PIDS
    cpus: float = DEFAULT_CPUS

    def describe(self) -> str:
        return f"memory {format_bytes(self.memory_bytes)}, pids {self.pids}, cpus {self.cpus:g}"


def limits_from(
    memory: str | None, pids: str | int | None, cpus: str | float | None, environ: Mapping[str, str]
) -> ContainerLimits:
    """Flag > ``AGENTDOCK_MEMORY`` / ``AGENTDOCK_PIDS_LIMIT`` / ``AGENTDOCK_CPUS`` > default."""
    memory_text = memory if memory is not None else environ.get("AGENTDOCK_MEMORY") or DEFAULT_MEMORY
    pids_text = pids if pids is not None else environ.get("AGENTDOCK_PIDS_LIMIT") or DEFAULT_PIDS
    cpus_text = cpus if cpus is not None else environ.get("AGENTDOCK_CPUS") or DEFAULT_CPUS
    try:
        pids_value = int(pids_text)
    except ValueError as exc:
        raise ConfigError(f"pids limit {pids_text!r} is not a whole number") from exc
    if pids_value < 16:
        raise ConfigError(f"pids limit {pids_value} is too low for Claude Code (at least 16)")
    try:
        cpus_value = float(cpus_text)
    except ValueError as exc:
        raise ConfigError(f"cpus {cpus_text!r} is not a number like 2 or 0.5") from exc
    if not math.isfinite(cpus_value) or cpus_value < 0.01:
        raise ConfigError(f"cpus {cpus_text!r} must be at least 0.01")
    return ContainerLimits(parse_memory(str(memory_text)), pids_value, cpus_value)


def scratch_tmpfs(uid: int, gid: int) -> dict[str, str]:
    """tmpfs mounts for a read-only root: where Claude Code, git, gh and the entrypoint write.

    Binds inside them (the agent's ``~/.claude``, ``~/.ssh``) are mounted on top by Docker.
    ``exec`` is kept: an agent runs what it writes in its workspace anyway, and tools installed
    with ``pip install --user`` land in ``~/.local/bin``.
    """
    owned = f"uid={uid},gid={gid}"
    return {
        "/tmp": "rw,exec,nosuid,nodev,size=512m,mode=1777",  # noqa: S108 (inside the container)
        CONTAINER_HOME: f"rw,exec,nosuid,nodev,size=512m,mode=0755,{owned}",
        "/run/agentdock": f"rw,noexec,nosuid,nodev,size=1m,mode=0755,{owned}",
    }


def run_options(
    limits: ContainerLimits, *, uid: int, gid: int, read_only_root: bool = True
) -> dict[str, Any]:
    """Keyword arguments for ``client.containers.run`` (merge ``tmpfs`` with the layout's masks)."""
    options: dict[str, Any] = {
        # Nothing is added back: the entrypoint and Claude Code run as the agent uid and need no
        # capability (no chown/setuid/bind below 1024/raw sockets); see the module docstring.
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"],
        "pids_limit": limits.pids,
        "mem_limit": limits.memory_bytes,
        "memswap_limit": limits.memory_bytes,  # no swap beyond the memory limit
        "nano_cpus": int(limits.cpus * 1e9),
        "read_only": read_only_root,
    }
    if read_only_root:
        options["tmpfs"] = scratch_tmpfs(uid, gid)
    return options
