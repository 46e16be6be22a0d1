"""docker/docker-compose.yml gives the container the same layout as the launcher."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from agentdock import paths
from agentdock.launcher.hardening import (
    DEFAULT_PIDS,
    ContainerLimits,
    parse_memory,
    run_options,
    scratch_tmpfs,
)
from agentdock.launcher.image import agentdock_checkout
from agentdock.launcher.layout import LayoutSpec, plan_layout
from agentdock.launcher.netpolicy import NETWORKS
from agentdock.launcher.session import bridge_gateway

COMPOSE = agentdock_checkout() / "docker" / "docker-compose.yml"


def _expand(text: str, root: Path) -> str:
    for var, value in {
        "${PROJECT_ROOT:?set PROJECT_ROOT}": str(root),
        "${PROJECT_ROOT}": str(root),
        "${PROJECT_NAME:-project}": root.name,
        "${AGENT:-claude}": "qa",
        "${AGENT_DATA:?set AGENT_DATA}": str(paths.agent_data_dir(root, "qa")),
        "${AGENT_DATA}": str(paths.agent_data_dir(root, "qa")),
        "${AGENT_UID:-1000}": "1000",
        "${AGENT_GID:-1000}": "1000",
    }.items():
        text = text.replace(var, value)
    return text


def test_compose_service_mounts_and_masks_match_the_launchers_layout(project: Path) -> None:
    service = yaml.safe_load(COMPOSE.read_text())["services"]["claude-agent"]
    assert service["extra_hosts"] == ["host.docker.internal:host-gateway"]
    assert service["env_file"] == ".env"
    layout = plan_layout(LayoutSpec(project, "qa", "tok"))
    expected = set()
    for bind in layout.binds:
        if bind.target.endswith("/CLAUDE.md"):
            continue  # agent-specific; documented in the compose file's header
        source = "projects" if bind.volume else bind.source
        expected.add(f"{source}:{bind.target}" + (":ro" if bind.read_only else ""))
    got = {_expand(v, project) for v in service["volumes"]}
    assert got == expected
    tmpfs = dict(_expand(t, project).split(":", 1) for t in service["tmpfs"])
    assert tmpfs == {**layout.tmpfs, **scratch_tmpfs(1000, 1000)}
    volume = yaml.safe_load(COMPOSE.read_text())["volumes"]["projects"]["name"]
    assert _expand(volume, project) == _binds_by_target(layout)["/projects"].source


def _binds_by_target(layout: Any) -> dict[str, Any]:
    return {b.target: b for b in layout.binds}


def test_compose_service_has_the_launchers_hardening_and_network() -> None:
    document = yaml.safe_load(COMPOSE.read_text())
    service = document["services"]["claude-agent"]
    options = run_options(ContainerLimits(), uid=1000, gid=1000)
    assert service["cap_drop"] == options["cap_drop"] == ["ALL"]
    assert service["security_opt"] == options["security_opt"]
    assert service["read_only"] is options["read_only"] is True
    defaults = {
        k: v.split(":-")[1].rstrip("}") for k, v in service.items() if str(v).startswith("${AGENTDOCK_")
    }
    assert defaults == {"pids_limit": "512", "mem_limit": "2g", "memswap_limit": "2g", "cpus": "2"}
    assert (
        parse_memory(defaults["mem_limit"]) == options["mem_limit"]
        and int(defaults["pids_limit"]) == DEFAULT_PIDS
    )
    assert float(defaults["cpus"]) * 1e9 == options["nano_cpus"]
    assert document["networks"]["agents"] == {"name": NETWORKS["open"].name, "external": True}


class _Networks:
    def __init__(self, ipam: dict[str, Any]) -> None:
        self.ipam = ipam

    def get(self, name: str) -> Any:
        assert name == "bridge"
        return type("Net", (), {"attrs": {"IPAM": self.ipam}})()


def test_bridge_gateway_comes_from_the_ipam_config_or_the_subnets_first_address() -> None:
    client = type("C", (), {})()
    client.networks = _Networks({"Config": [{"Subnet": "172.18.0.0/16", "Gateway": "172.18.0.254"}]})
    assert bridge_gateway(client) == "172.18.0.254"
    client.networks = _Networks({"Config": [{"Subnet": "172.17.0.0/16"}]})
    assert bridge_gateway(client) == "172.17.0.1"
    client.networks = _Networks({"Config": []})
    assert bridge_gateway(client) is None
