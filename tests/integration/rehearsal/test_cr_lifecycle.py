"""The CR life-cycle rehearsal, end to end: real engine, real agent containers, real Claude Code.

``agentdock rehearse cr-lifecycle`` runs as a user would run it (a subprocess),
on a throw-away project kept in ``tmp_path``.  Then the host's own QMS is asked:
the change record is CLOSED, and each event in its audit trail names the agent
whose container (and so whose token) made the call, in the order the rehearsal
recorded the calls.  The session notes reached the bare remote.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(1200)]

#: The QMS tool calls of the scenario -> the audit event each one writes.
EVENT_OF_TOOL = {
    "qms_create": "CREATE",
    "qms_checkout": "CHECKOUT",
    "qms_checkin": "CHECKIN",
    "qms_assign": "ASSIGN",
    "qms_review": "REVIEW",
    "qms_approve": "APPROVE",
    "qms_release": "RELEASE",
    "qms_close": "CLOSE",
}


def _agentdock() -> list[str]:
    return [str(Path(sys.executable).with_name("agentdock"))]


def test_the_cr_lifecycle_rehearsal_closes_the_cr_with_each_agent_named_from_its_own_token(
    tmp_path: Path, agent_image: str
) -> None:
    record_file = tmp_path / "record.json"
    env = {k: v for k, v in os.environ.items() if k not in {"ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"}}
    done = subprocess.run(
        [*_agentdock(), "rehearse", "cr-lifecycle", "--workdir", str(tmp_path / "run"),
         "--image", agent_image, "--record", str(record_file)],
        capture_output=True, text=True, timeout=1100, check=False, env=env,
    )  # fmt: skip
    print(done.stdout[-6000:], done.stderr[-3000:])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "rehearsal cr-lifecycle" in done.stdout and "PASSED" in done.stdout
    record: dict[str, Any] = json.loads(record_file.read_text())
    assert record["ok"] is True
    assert record["audit"] == []  # every mutating call ran exactly once (QMS audit trail, git-mcp record)
    assert all(step["outcome"] == "ok" for step in record["steps"])
    assert {t["agent"] for t in record["turns"]} == {"claude", "qa", "tu_ui"}
    assert all(t["exit_code"] == 0 for t in record["turns"])

    root = tmp_path / "run" / "project"
    status = subprocess.run(
        [str(Path(sys.executable).with_name("qms")), "--project-root", str(root), "--user", "qa", "--json",
         "status", "CR-001"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    data = json.loads(status.stdout)["data"]
    assert data["status"] == "CLOSED"
    assert data["version"] == "2.0"

    audit = [json.loads(line) for line in (root / "QMS/.audit/CR/CR-001.jsonl").read_text().splitlines()]
    # The audit trail, with the automatic status changes left out, is exactly the rehearsal's QMS calls,
    # each under the name of the agent whose container made it (identity comes only from the token).
    trail = [(e["event"], e["user"]) for e in audit if e["event"] in set(EVENT_OF_TOOL.values())]
    calls = [
        (EVENT_OF_TOOL[step["tool"].removeprefix("mcp__qms__")], step["agent"])
        for step in record["steps"]
        if step["tool"].removeprefix("mcp__qms__") in EVENT_OF_TOOL
    ]
    # qms_create also checks the document out (CREATE then CHECKOUT, both by its creator).
    calls.insert(1, ("CHECKOUT", "claude"))
    assert trail == calls
    assert {user for _, user in trail} == {"claude", "qa", "tu_ui"}
    assert ("REVIEW", "tu_ui") in trail and ("CLOSE", "claude") in trail

    remote = tmp_path / "run" / "remote.git"
    log = subprocess.run(
        ["git", "-C", str(remote), "log", "-1", "--format=%s"], capture_output=True, text=True, check=True
    )
    assert log.stdout.strip() == "Session notes: CR-001 closed"
    assert record["announcements"], "the inbox watcher announced no task"
