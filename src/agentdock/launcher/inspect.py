"""What running agent containers and host servers actually got: limits, capabilities, network, uid.

The doctor reports these; the numbers come from the engine (``HostConfig``) and from the
container's own ``/proc/1/status`` (the capability bounding set the kernel enforces, and
``NoNewPrivs``), not from what the launcher meant to ask for.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker.errors

from agentdock.launcher.hardening import format_bytes
from agentdock.launcher.netpolicy import LABEL_POLICY

__all__ = ["ContainerPosture", "container_posture", "process_uid", "status_fields"]


def status_fields(text: str) -> dict[str, str]:
    """``/proc/<pid>/status`` text -> {field: value}."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


def process_uid(pid: int, proc: Path = Path("/proc")) -> int | None:
    """The real uid of ``pid`` (``None`` when it is gone or unreadable)."""
    try:
        status = status_fields((proc / str(pid) / "status").read_text(encoding="ascii", errors="replace"))
        return int(status["Uid"].split()[0])
    except (OSError, KeyError, ValueError, IndexError):
        return None


@dataclass(frozen=True)
class ContainerPosture:
    name: str
    memory_bytes: int  # 0: unlimited
    pids: int  # 0 or -1: unlimited
    cpus: float  # 0: unlimited
    cap_bnd: int | None  # bounding set of pid 1 (None: could not read)
    cap_eff: int | None
    no_new_privs: bool | None
    read_only_root: bool
    networks: tuple[str, ...]
    policy: str

    @property
    def problems(self) -> list[str]:
        found = []
        if not self.memory_bytes:
            found.append("no memory limit")
        if self.pids <= 0:
            found.append("no pids limit")
        if not self.cpus:
            found.append("no CPU limit")
        if self.cap_bnd is None or self.cap_bnd != 0:
            found.append(f"capability bounding set {self._hex(self.cap_bnd)} (want 0)")
        if self.no_new_privs is not True:
            found.append("no-new-privileges off")
        if not self.read_only_root:
            found.append("writable root filesystem")
        return found

    @staticmethod
    def _hex(value: int | None) -> str:
        return "unknown" if value is None else f"{value:#x}"

    def describe(self) -> str:
        memory = format_bytes(self.memory_bytes) if self.memory_bytes else "unlimited"
        pids = str(self.pids) if self.pids > 0 else "unlimited"
        cpus = f"{self.cpus:g}" if self.cpus else "unlimited"
        limits = f"memory {memory}, pids {pids}, cpus {cpus}"
        return (
            f"{limits}; CapBnd {self._hex(self.cap_bnd)}, CapEff {self._hex(self.cap_eff)}, "
            f"NoNewPrivs {int(self.no_new_privs) if self.no_new_privs is not None else '?'}, "
            f"root {'read-only' if self.read_only_root else 'writable'}; "
            f"network {', '.join(self.networks) or 'none'} (policy {self.policy})"
        )


def _proc1_status(container: Any) -> dict[str, str]:
    try:
        result = container.exec_run(["cat", "/proc/1/status"], user="0")
    except docker.errors.DockerException:
        return {}
    if result.exit_code != 0:
        return {}
    return status_fields(bytes(result.output).decode("ascii", "replace"))


def _hex_field(status: dict[str, str], key: str) -> int | None:
    try:
        return int(status[key], 16)
    except (KeyError, ValueError):
        return None


def container_posture(container: Any) -> ContainerPosture:
    """Limits, capabilities and network of a running container, as the engine and kernel see them."""
    attrs = container.attrs
    host = attrs.get("HostConfig") or {}
    status = _proc1_status(container)
    nnp = status.get("NoNewPrivs")
    networks = (attrs.get("NetworkSettings") or {}).get("Networks") or {}
    labels = (attrs.get("Config") or {}).get("Labels") or {}
    return ContainerPosture(
        name=container.name,
        memory_bytes=int(host.get("Memory") or 0),
        pids=int(host.get("PidsLimit") or 0),
        cpus=int(host.get("NanoCpus") or 0) / 1e9,
        cap_bnd=_hex_field(status, "CapBnd"),
        cap_eff=_hex_field(status, "CapEff"),
        no_new_privs=None if nnp is None else nnp == "1",
        read_only_root=bool(host.get("ReadonlyRootfs")),
        networks=tuple(sorted(networks)),
        policy=str(labels.get(LABEL_POLICY, "unknown (started before network policies)")),
    )
