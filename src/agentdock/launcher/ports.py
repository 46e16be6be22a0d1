"""Which ports a project's servers use: chosen once per project, so two projects run at once.

The first project launched gets the defaults (``qms-mcp`` 8000, ``git-mcp`` 8001) when they
are free; the next gets the next free pair (8002/8003, ...).  The choice is recorded in
agentdock's per-user data directory (``<data dir>/ports.json``, keyed by the resolved
project root) — private state outside every project, so an agent cannot rewrite it — and
reused by every later launch, ``stop`` and ``doctor`` of that project.  Projects that no
longer exist are dropped from the record, so their ports become free again.  ``--qms-port`` and
``--git-port`` still win for the launch that gives them (and are not recorded).
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from agentdock.defaults import GIT_PORT, QMS_PORT
from agentdock.launcher.errors import ConfigError
from agentdock.launcher.locks import step_lock
from agentdock.mcphost.files import atomic_write_text

__all__ = ["REGISTRY", "Ports", "port_is_free", "project_ports", "registered_projects"]

REGISTRY = "ports.json"
#: How many pairs above the defaults are tried before giving up.
MAX_PAIRS = 200


@dataclass(frozen=True)
class Ports:
    qms: int
    git: int


def port_is_free(port: int) -> bool:
    """Nothing listens on ``port`` (bind test on the wildcard address, as a server would need)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("0.0.0.0", port))  # noqa: S104 - a bind test, closed at once; nothing serves here
        except OSError:
            return False
    return True


def _read(registry: Path) -> dict[str, Ports]:
    try:
        data = json.loads(registry.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"{registry} is not readable JSON ({exc}); remove it to choose ports again"
        ) from exc
    out: dict[str, Ports] = {}
    if isinstance(data, dict):
        for root, entry in data.items():
            if (
                isinstance(entry, dict)
                and isinstance(entry.get("qms"), int)
                and isinstance(entry.get("git"), int)
            ):
                out[str(root)] = Ports(entry["qms"], entry["git"])
    return out


def _write(registry: Path, entries: Mapping[str, Ports]) -> None:
    body = {root: {"qms": p.qms, "git": p.git} for root, p in sorted(entries.items())}
    atomic_write_text(registry, json.dumps(body, indent=2) + "\n", mode=0o600)


@contextlib.contextmanager
def _locked(data_dir: Path) -> Iterator[Path]:
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with step_lock(data_dir / "ports.lock", what="choosing the servers' ports", timeout_s=30.0):
        yield data_dir / REGISTRY


def project_ports(
    root: Path,
    data_dir: Path,
    *,
    qms: int | None = None,
    git: int | None = None,
    is_free: Callable[[int], bool] = port_is_free,
) -> Ports:
    """The project's ports: explicit ones win; else the recorded pair; else a new free pair, recorded."""
    key = str(root.resolve())
    with _locked(data_dir) as registry:
        entries = {
            root: p for root, p in _read(registry).items() if Path(root).is_dir()
        }  # prune gone projects
        recorded = entries.get(key)
        if recorded is None:
            taken = {port for other, p in entries.items() if other != key for port in (p.qms, p.git)}
            recorded = _choose(taken, is_free)
            entries[key] = recorded
            _write(registry, entries)
    return Ports(qms if qms is not None else recorded.qms, git if git is not None else recorded.git)


def _choose(taken: set[int], is_free: Callable[[int], bool]) -> Ports:
    for k in range(MAX_PAIRS):
        pair = Ports(QMS_PORT + 2 * k, GIT_PORT + 2 * k)
        if pair.qms in taken or pair.git in taken:
            continue
        if is_free(pair.qms) and is_free(pair.git):
            return pair
    raise ConfigError(
        f"no free pair of ports from {QMS_PORT} to {QMS_PORT + 2 * MAX_PAIRS}; pass --qms-port and --git-port"
    )


def registered_projects(data_dir: Path) -> dict[Path, Ports]:
    """Every project that has ports recorded, root -> ports."""
    registry = data_dir / REGISTRY
    return {Path(root): ports for root, ports in _read(registry).items()}
