"""``agentdock soak --mode session`` end to end: a real container, real servers, real ``claude -p`` sessions.

Replays trial 69 of seed 7, whose draw holds every mid-session fault (a reset, a partition, an idle gap
past the servers' session lifetime, a 503 burst, a forgotten session, a qms-mcp restart): the proxy
path must answer every one of the 20 calls correctly with no duplicate execution in the servers' own
records.  The direct path (Claude Code's own HTTP client) is recorded, not judged.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentdock.rehearsal.sessions.plan import CALLS, EVENTS, draw_events
from agentdock.rehearsal.sessions.trial import LIFETIME_S
from agentdock.soak.cli import main
from agentdock.soak.profiles import launch_seed

pytestmark = [pytest.mark.docker, pytest.mark.timeout(900)]


def test_a_replayed_session_with_every_mid_session_fault_passes_through_the_proxy(tmp_path: Path) -> None:
    assert {e.kind for e in draw_events(launch_seed(7, 69), "flaky", LIFETIME_S)} == set(EVENTS)
    report_dir = tmp_path / "report"
    code = main(
        [
            "--mode",
            "session",
            "--faults",
            "flaky",
            "--seed",
            "7",
            "--replay",
            "69",
            "--report",
            str(report_dir),
        ]
    )
    report = json.loads((report_dir / "report.json").read_text())
    (line,) = (report_dir / "launches.jsonl").read_text().splitlines()
    record = json.loads(line)
    proxy = record["paths"]["proxy"]
    assert code == 0, (proxy["failed_step"], proxy["error"], record["evidence"])
    assert [c["ok"] for c in proxy["calls"]] == [True] * CALLS
    assert {c["event"] for c in proxy["calls"] if c["event"]} == set(EVENTS)
    assert (proxy["duplicates"], proxy["lost"]) == (0, 0)
    calls = report["paths"]["proxy"]["calls"]
    assert (calls["ok"], calls["total"], calls["sessions_completed"]) == (CALLS, CALLS, 1)
    assert set(record["paths"]) == {"proxy", "direct"} and len(record["paths"]["direct"]["calls"]) == CALLS
    observed = record["faults"]["observed"]["proxy"]["qms"]
    assert observed["front_partitions"] == 1 and observed["front_bursts_armed"] == 1
    assert (report_dir / "report.html").read_text().count("Calls in sessions") == 1
