"""The connection-trial step with a fake in-container driver: fronts, the proxy's command line, records.

No Docker: the fault fronts listen on 127.0.0.1 (standing in for the bridge gateway), and the driver is a fake
that answers as the real one does, recording what it was asked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agentdock.launcher import LayoutSpec
from agentdock.soak.connect import SERVER, TOOL, ConnectionTrial
from agentdock.soak.environment import SoakEnvironment
from agentdock.soak.profiles import LaunchFaults
from agentdock.soak.runner import LaunchPlan

pytestmark = pytest.mark.anyio

TOKEN = "tok-secret-123"


class FakeDriver:
    def __init__(self, answers: dict[str, dict[str, Any]]) -> None:
        self.answers = answers
        self.asked: list[dict[str, Any]] = []

    async def ask(self, request: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        self.asked.append(request)
        return self.answers[request["path"]]


def _env(tmp_path: Path) -> SoakEnvironment:
    return SoakEnvironment(
        client=None, root=tmp_path, gateway="127.0.0.1", image="sha256:x", image_tag="t", uid=1000, gid=1000,
        ports={"qms": 1, "git": 2}, tokens={"qa": TOKEN}, docker_cli="docker", server_timeout_s=5,
        projects_dir=tmp_path,
    )  # fmt: skip


OK = {"ok": True, "failed_step": None, "error": None, "first_response_ms": 120.0,
      "steps_ms": {"initialize": 120.0, "tools_list": 9.0, "tool_call": 11.0}}  # fmt: skip


async def test_each_trial_runs_a_fresh_proxy_with_the_launchers_arguments_and_the_direct_path_too(
    tmp_path: Path,
) -> None:
    driver = FakeDriver({"proxy": OK, "direct": OK})
    layout = LayoutSpec(root=tmp_path, agent="qa", token=TOKEN, proxy_retries=3)
    step = ConnectionTrial(_env(tmp_path), [(driver, layout, "cid")])  # type: ignore[list-item]
    plan = LaunchPlan(
        index=4, seed=99, profile="hostile", faults=LaunchFaults(latency_ms=5, restart_after_ms=10)
    )
    record = await step(plan)

    proxy, direct = driver.asked
    argv = proxy["argv"]
    assert argv[:3] == ["python3", "-S", "/proxy/mcp_proxy.py"]
    assert argv[3].startswith("http://host.docker.internal:") and argv[3].endswith("/mcp")
    assert argv[4:6] == ["--retries", "3"] and f"Authorization=Bearer {TOKEN}" in argv
    assert direct["url"].startswith("http://host.docker.internal:") and direct["token"] == TOKEN
    assert argv[3] != direct["url"], "each path has its own fault front"
    assert proxy["tool"] == direct["tool"] == TOOL
    assert record.ok and record.container_id == "cid" and (record.index, record.seed) == (4, 99)
    assert record.paths["proxy"].first_response_ms == 120.0
    assert record.faults["restart_after_ms"] is None, "restarts are not drawn in connect mode"
    assert set(record.faults["observed"]["proxy"]) == {SERVER}


async def test_a_failed_trial_keeps_the_proxys_stderr_without_the_token(tmp_path: Path) -> None:
    failed = {"ok": False, "failed_step": "initialize", "error": f"McpError: bad {TOKEN}", "steps_ms": {},
              "stderr": f"mcp-proxy: giving up; header Bearer {TOKEN}"}  # fmt: skip
    driver = FakeDriver({"proxy": failed, "direct": OK})
    layout = LayoutSpec(root=tmp_path, agent="qa", token=TOKEN)
    step = ConnectionTrial(_env(tmp_path), [(driver, layout, "cid")])  # type: ignore[list-item]
    record = await step(LaunchPlan(index=0, seed=1, profile="flaky", faults=LaunchFaults()))
    assert not record.ok and record.paths["proxy"].failed_step == "initialize"
    assert record.paths["direct"].ok
    assert TOKEN not in (record.paths["proxy"].error or "") and TOKEN not in record.evidence["proxy_stderr"]
    assert "giving up" in record.evidence["proxy_stderr"]
