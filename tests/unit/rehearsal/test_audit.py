"""Duplicate and lost executions, counted from the servers' own records."""

from __future__ import annotations

import json
from pathlib import Path

from agentdock import paths
from agentdock.rehearsal.audit import audit_problems
from agentdock.rehearsal.records import StepRecord

LATER = "2030-01-01T00:00:01.000000Z"
EARLIER = "2020-01-01T00:00:00.000000Z"
SINCE = 1893456000.0  # 2030-01-01T00:00:00Z


def write_trail(root: Path, events: list[tuple[str, str, str]]) -> None:
    trail = paths.qms_dir(root) / ".audit" / "CR" / "CR-001.jsonl"
    trail.parent.mkdir(parents=True, exist_ok=True)
    trail.write_text("".join(json.dumps({"ts": ts, "event": e, "user": u}) + "\n" for ts, e, u in events))


def write_git(root: Path, commands: list[tuple[str, str]]) -> None:
    record = paths.run_dir(root) / "git-mcp-audit.jsonl"
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(
        "".join(
            json.dumps({"time": "2030-01-01T00:00:02+00:00", "agent": a, "command": c, "outcome": "ok"})
            + "\n"
            for c, a in commands
        )
    )


def ok(agent: str, tool: str, **kw: object) -> StepRecord:
    return StepRecord(turn=1, step=1, agent=agent, tool=tool, outcome="ok", is_error=False, input=dict(kw))


def test_each_successful_call_once_in_the_records_is_clean(tmp_path: Path) -> None:
    write_trail(tmp_path, [(EARLIER, "CREATE", "bu"), (LATER, "CREATE", "claude"), (LATER, "CHECKOUT", "claude"),
                           (LATER, "ROUTE_REVIEW", "claude"), (LATER, "STATUS_CHANGE", "claude")])  # fmt: skip
    write_git(tmp_path, [("git status", "claude")])
    steps = [
        ok("claude", "mcp__qms__qms_create"),
        ok("claude", "mcp__qms__qms_route"),
        ok("claude", "mcp__git__git_exec", command="git status"),
        StepRecord(turn=1, step=4, agent="claude", tool="mcp__qms__qms_approve", outcome="ok", is_error=True),
    ]
    assert audit_problems(tmp_path, steps, SINCE) == ([], [])


def test_a_call_that_ran_twice_is_a_duplicate_even_though_the_agent_saw_one_success(tmp_path: Path) -> None:
    write_trail(tmp_path, [(LATER, "CHECKIN", "claude"), (LATER, "CHECKIN", "claude")])
    write_git(tmp_path, [("git commit -m x", "claude"), ("git commit -m x", "claude")])
    steps = [
        ok("claude", "mcp__qms__qms_checkin"),
        ok("claude", "mcp__git__git_exec", command="git commit -m x"),
    ]
    problems, _ = audit_problems(tmp_path, steps, SINCE)
    assert problems == [
        "duplicate execution: CHECKIN by claude is in the audit trail 2 time(s), called 1 time(s) (1 successfully)",
        "duplicate execution: git commit -m x by claude is in the audit trail 2 time(s), called 1 time(s) "
        "(1 successfully)",
    ]


def test_a_call_the_agent_saw_fail_that_ran_once_is_unseen_not_a_duplicate(tmp_path: Path) -> None:
    """The answer was lost on the way back (a reset): one execution for one call issued is not a duplicate."""
    write_trail(tmp_path, [(LATER, "CHECKIN", "claude")])
    failed = StepRecord(
        turn=1, step=1, agent="claude", tool="mcp__qms__qms_checkin", outcome="failed", tool_use_id="toolu_1"
    )
    problems, _ = audit_problems(tmp_path, [failed], SINCE)
    assert problems == [
        "unseen execution: CHECKIN by claude is in the audit trail 1 time(s) but succeeded only 0 time(s): "
        "a call the agent saw fail ran on the server"
    ]
    never_sent = StepRecord(turn=1, step=1, agent="claude", tool="mcp__qms__qms_checkin", outcome="failed")
    problems, _ = audit_problems(tmp_path, [never_sent], SINCE)  # no tool_use went out: it cannot have run
    assert problems[0].startswith(
        "duplicate execution: CHECKIN by claude is in the audit trail 1 time(s), called 0"
    )


def test_a_success_missing_from_the_records_is_lost(tmp_path: Path) -> None:
    write_trail(tmp_path, [])
    problems, notes = audit_problems(tmp_path, [ok("qa", "mcp__qms__qms_approve")], SINCE)
    assert problems == ["lost: APPROVE by qa succeeded 1 time(s) but is in the audit trail 0 time(s)"]
    assert "git calls not cross-checked" in notes[0]
