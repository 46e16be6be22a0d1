"""``./launch.sh --print-compose``: the compose service is the launcher's own ``containers.run`` call.

The generated file is proven equal to a launch at runtime by
tests/integration/launcher/test_compose_equivalence.py; here, without Docker, that every
keyword the launcher hands to Docker reaches the compose service (or is named as not applying),
and that nothing secret is written into the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from agentdock.launcher.compose import compose_document, compose_service, render
from agentdock.launcher.containers import AgentContainerSpec, run_config
from agentdock.launcher.hardening import ContainerLimits
from agentdock.launcher.layout import LayoutSpec, plan_layout

#: ``run_config`` keys a compose service has no counterpart for, and why.
NOT_IN_COMPOSE = {
    "detach": "compose decides: `up -d` detaches, `run` attaches",
    "network": "the service joins the file's `agents` network, which names the same network",
}
#: ``run_config`` key -> compose key, where the spelling differs.
RENAMED = {"name": "container_name", "nano_cpus": "cpus", "mounts": "volumes"}


def _config(project: Path, **changes: Any) -> dict[str, Any]:
    spec = AgentContainerSpec(
        layout=LayoutSpec(project, "qa", "secret-token-value"),
        uid=1234,
        gid=2345,
        limits=ContainerLimits(memory_bytes=512 * 1024**2, pids=64, cpus=0.5),
        environment={"GH_TOKEN": "ghp_secret", **changes},
    )
    return run_config(spec, plan_layout(spec.layout), "agentdock-agents")


def test_every_option_of_the_launchers_docker_run_reaches_the_compose_service(project: Path) -> None:
    config = _config(project)
    service = compose_service(config, passthrough=("GH_TOKEN",))
    for key in config:
        if key in NOT_IN_COMPOSE:
            continue
        assert RENAMED.get(key, key) in service, f"run option {key!r} is missing from the compose service"
    assert service["cap_drop"] == ["ALL"] and service["security_opt"] == ["no-new-privileges:true"]
    assert (service["mem_limit"], service["memswap_limit"], service["pids_limit"], service["cpus"]) == (
        512 * 1024**2, 512 * 1024**2, 64, 0.5,
    )  # fmt: skip
    assert service["read_only"] is True and service["init"] is True
    assert service["labels"] == config["labels"]
    assert service["extra_hosts"] == ["host.docker.internal:host-gateway"]


def test_mounts_and_tmpfs_are_the_layouts_one_for_one(project: Path) -> None:
    config = _config(project)
    service = compose_service(config)
    got = {(v["type"], v["source"], v["target"], v["read_only"]) for v in service["volumes"]}
    want = {(m["Type"], m["Source"], m["Target"], bool(m["ReadOnly"])) for m in config["mounts"]}
    assert got == want and len(service["volumes"]) == len(config["mounts"])
    assert dict(t.split(":", 1) for t in service["tmpfs"]) == config["tmpfs"]
    assert any(t.startswith("/demo-proj/.agentdock:ro,") for t in service["tmpfs"])


def test_passed_through_secrets_are_named_never_written(project: Path) -> None:
    config = _config(project)
    document = compose_document(
        {"qa": compose_service(config, passthrough=("GH_TOKEN", "ANTHROPIC_API_KEY"))},
        "agentdock-agents",
        ["agentdock-projects-qa"],
    )
    text = render(document, "header line")
    assert "ghp_secret" not in text and "secret-token-value" not in text
    service = yaml.safe_load(text)["services"]["qa"]
    assert "GH_TOKEN" in service["environment"] and "ANTHROPIC_API_KEY" in service["environment"]
    assert "SETUP_ONLY=1" in service["environment"]
    assert text.startswith("# header line\n")


def test_the_document_names_the_launchers_network_and_volumes(project: Path) -> None:
    config = _config(project)
    document = yaml.safe_load(
        render(
            compose_document({"qa": compose_service(config)}, "agentdock-agents", ["agentdock-projects-qa"])
        )
    )
    assert document["networks"] == {"agents": {"name": "agentdock-agents", "external": True}}
    assert document["volumes"] == {"agentdock-projects-qa": {"name": "agentdock-projects-qa"}}
    volume = next(v for v in document["services"]["qa"]["volumes"] if v["type"] == "volume")
    assert volume["source"] in document["volumes"] and volume["target"] == "/projects"
