"""Short real soaks: fresh agent containers, real Claude Code, real proxy, real servers, injected faults.

Run with ``.venv/bin/pytest tests/soak -m soak`` (needs Docker; builds the agent image when its inputs changed).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agentdock.soak.cli import main
from agentdock.soak.records import read_launches

pytestmark = [
    pytest.mark.soak,
    pytest.mark.docker,
    pytest.mark.slow,
    pytest.mark.timeout(1800),
    # The launcher starts qms-mcp/git-mcp detached and drops their Popen objects on purpose (they outlive
    # the launch); the soak stops them by pid, but Popen.__del__ still reports them as "still running".
    pytest.mark.filterwarnings(
        r"ignore:Exception ignored in. <function Popen.__del__:pytest.PytestUnraisableExceptionWarning"
    ),
]


def _soak(tmp_path: Path, *args: str) -> tuple[int, dict[str, Any]]:
    report = tmp_path / "report"
    code = main([*args, "--report", str(report)])
    return code, json.loads((report / "report.json").read_text())


def test_a_flaky_soak_measures_both_paths_in_fresh_containers_and_the_proxy_never_fails(
    docker_client: Any, tmp_path: Path
) -> None:
    code, report = _soak(tmp_path, "--launches", "3", "--faults", "flaky", "--seed", "2024")

    records = read_launches(tmp_path / "report" / "launches.jsonl")
    assert [r.index for r in records] == [0, 1, 2]
    assert len({r.container_id for r in records}) == 3, "every launch gets a fresh container"
    assert all(r.infra_error is None for r in records)
    proxy = report["paths"]["proxy"]
    assert (proxy["attempts"], proxy["failures"]) == (3, 0), report["failures"]
    assert report["paths"]["direct"]["attempts"] == 3
    for step in ("mcp_list", "qms_initialize", "tools_list", "qms_call", "git_initialize", "git_exec"):
        assert proxy["latency_ms"][step]["count"] == 3, step
    assert all(r.faults["latency_ms"] > 0 for r in records), "the flaky profile injected latency"
    connections = sum(v["tcp_connections"] for r in records for v in r.faults["observed"]["proxy"].values())
    assert connections > 0, "the proxy path went through the fault proxies"
    assert code == 0
    assert (tmp_path / "report" / "report.html").read_text().count("<svg") >= 3


def test_the_proxy_path_survives_the_host_servers_restarting_mid_launch(
    docker_client: Any, tmp_path: Path
) -> None:
    # seed 2 draws a restart 643 ms and 471 ms into each path of its two launches
    code, report = _soak(tmp_path, "--launches", "2", "--faults", "restart", "--seed", "2")
    records = read_launches(tmp_path / "report" / "launches.jsonl")
    assert [r.faults["restart_after_ms"] for r in records] == [643, 471]
    assert records[-1].faults["server_restarts_so_far"] == 4, "each path of each launch saw one restart"
    assert report["paths"]["proxy"]["failures"] == 0, report["failures"]
    assert code == 0
