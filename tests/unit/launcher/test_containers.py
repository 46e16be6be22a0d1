"""Readiness waiting and duplicate refusal, against fake container objects (no Docker)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from agentdock.launcher.containers import (
    AgentContainerSpec,
    container_name,
    existing_containers,
    start_agent_container,
    wait_until_ready,
)
from agentdock.launcher.errors import AgentAlreadyRunning, ContainerNotReady
from agentdock.launcher.hardening import ContainerLimits
from agentdock.launcher.layout import LayoutSpec


@dataclass
class ExecResult:
    exit_code: int
    output: bytes = b""


@dataclass
class FakeContainer:
    statuses: list[str]
    ready_after: int = 10**9
    name: str = "agentdock-x-qa"
    status: str = "created"
    checks: int = 0
    removed: bool = False
    attrs: dict[str, Any] = field(default_factory=lambda: {"State": {"ExitCode": 3}})

    def reload(self) -> None:
        self.status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]

    def exec_run(self, cmd: list[str]) -> ExecResult:
        self.checks += 1
        return ExecResult(0 if self.checks >= self.ready_after else 1)

    def logs(self, tail: int = 60) -> bytes:
        return b"agentdock: error: no MCP servers\n"

    def remove(self, force: bool = False) -> None:
        self.removed = True


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_ready_when_the_marker_appears() -> None:
    container = FakeContainer(["running"], ready_after=3)
    clock = FakeClock()
    wait_until_ready(container, 10, clock=clock, sleep=clock.sleep)
    assert container.checks == 3


def test_a_container_that_exits_fails_at_once_with_its_logs() -> None:
    clock = FakeClock()
    with pytest.raises(ContainerNotReady, match=r"exited \(3\)") as info:
        wait_until_ready(FakeContainer(["running", "exited"]), 60, clock=clock, sleep=clock.sleep)
    assert "no MCP servers" in info.value.logs
    assert clock.now < 1


def test_readiness_is_bounded_and_the_timeout_carries_the_logs() -> None:
    clock = FakeClock()
    with pytest.raises(ContainerNotReady, match="not ready after 5s") as info:
        wait_until_ready(FakeContainer(["running"]), 5, clock=clock, sleep=clock.sleep)
    assert "no MCP servers" in str(info.value)
    assert 5 <= clock.now < 6


class FakeContainers:
    def __init__(self, existing: list[FakeContainer]) -> None:
        self.existing = existing
        self.filters: list[Any] = []
        self.runs = 0

    def list(self, all: bool, filters: dict[str, Any], ignore_removed: bool = False) -> list[FakeContainer]:
        """Like the SDK: list, then inspect each; one removed in between is a 404 unless ignored."""
        self.filters.append(filters)
        if any(c.removed for c in self.existing) and not ignore_removed:
            raise docker.errors.NotFound("No such container: removed while listing")
        return [c for c in self.existing if not c.removed]

    def run(self, *args: Any, **kwargs: Any) -> FakeContainer:
        self.runs += 1
        self.last_run = kwargs
        return FakeContainer(["running"])


@dataclass
class FakeNetwork:
    name: str


class FakeNetworks:
    def __init__(self) -> None:
        self.created: list[tuple[str, dict[str, Any]]] = []

    def list(self, names: list[str]) -> list[FakeNetwork]:
        return [FakeNetwork(n) for n, _ in self.created if n in names]

    def create(self, name: str, **kwargs: Any) -> FakeNetwork:
        self.created.append((name, kwargs))
        return FakeNetwork(name)


class FakeClient:
    def __init__(self, existing: list[FakeContainer]) -> None:
        self.containers = FakeContainers(existing)
        self.networks = FakeNetworks()


def test_a_second_container_for_the_same_agent_is_refused(project: Path) -> None:
    running = FakeContainer(["running"], status="running", name="agentdock-demo-qa")
    client = FakeClient([running])
    with pytest.raises(AgentAlreadyRunning, match="docker exec -it agentdock-demo-qa claude"):
        start_agent_container(client, AgentContainerSpec(layout=LayoutSpec(project, "qa", "t")))
    assert client.containers.runs == 0
    labels = client.containers.filters[0]["label"]
    assert "io.agentdock.agent=qa" in labels and any(x.startswith("io.agentdock.project=") for x in labels)


def test_a_stopped_leftover_is_removed_and_the_launch_goes_on(project: Path) -> None:
    leftover = FakeContainer(["exited"], status="exited", name="old")
    client = FakeClient([leftover])
    seen: list[str] = []
    start_agent_container(
        client, AgentContainerSpec(layout=LayoutSpec(project, "qa", "t")), on_stale=seen.append
    )
    assert leftover.removed and seen == ["old"] and client.containers.runs == 1


def test_container_names_differ_per_project_and_agent(tmp_path: Path) -> None:
    a = container_name(AgentContainerSpec(layout=LayoutSpec(tmp_path / "a" / "proj", "qa", "t")))
    b = container_name(AgentContainerSpec(layout=LayoutSpec(tmp_path / "b" / "proj", "qa", "t")))
    c = container_name(AgentContainerSpec(layout=LayoutSpec(tmp_path / "a" / "proj", "bu", "t")))
    assert len({a, b, c}) == 3 and a.startswith("agentdock-proj-") and a.endswith("-qa")


def test_a_container_removed_between_listing_and_inspecting_is_skipped(project: Path) -> None:
    kept = FakeContainer(["running"], status="running", name="agentdock-demo-qa")
    vanishing = FakeContainer(["exited"], status="exited", name="agentdock-demo-bu")
    client = FakeClient([vanishing, kept])
    vanishing.removed = True  # another launcher removed it after the engine listed it
    assert existing_containers(client, project) == [kept]


def test_every_agent_container_gets_least_privilege_limits_and_the_policys_network(project: Path) -> None:
    client = FakeClient([])
    limits = ContainerLimits(memory_bytes=512 * 1024**2, pids=64, cpus=0.5)
    for agent, policy in (("qa", "strict"), ("bu", "strict"), ("tu_ui", "open")):
        spec = AgentContainerSpec(
            layout=LayoutSpec(project, agent, "t"), uid=1234, gid=2345, limits=limits, network_policy=policy
        )
        start_agent_container(client, spec)
    run = client.containers.last_run
    assert run["cap_drop"] == ["ALL"] and "cap_add" not in run
    assert run["security_opt"] == ["no-new-privileges:true"]
    assert run["read_only"] is True
    assert (run["mem_limit"], run["memswap_limit"], run["pids_limit"], run["nano_cpus"]) == (
        512 * 1024**2, 512 * 1024**2, 64, 500_000_000,
    )  # fmt: skip
    assert run["network"] == "agentdock-agents"
    assert run["labels"]["io.agentdock.network-policy"] == "open"
    # scratch space for a read-only root, owned by the image user, next to the layout's masks
    assert "uid=1234,gid=2345" in run["tmpfs"]["/home/agent"] and "/tmp" in run["tmpfs"]
    assert run["tmpfs"]["/demo-proj/.agentdock"].startswith("ro,")
    # each network created once, with its bridge named for the firewall rules and ICC off
    assert [name for name, _ in client.networks.created] == ["agentdock-strict", "agentdock-agents"]
    options = dict(client.networks.created[0][1]["options"])
    assert options == {
        "com.docker.network.bridge.name": "agd-strict",
        "com.docker.network.bridge.enable_icc": "false",
    }
