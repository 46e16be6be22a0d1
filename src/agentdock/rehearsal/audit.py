"""Did each mutating QMS call run exactly once?  The QMS's own audit trail against the recorded calls.

A call the agent saw succeed must appear in the audit trail once — not zero
times (lost) and not twice (a retry that ran it again, which the agent cannot
see: the second answer looks like the first).  A call the agent saw fail may
have run once (its answer was lost on the way back: an *unseen execution*,
reported apart); more executions than calls issued are duplicates.  `audit_problems` reads every
``QMS/.audit/**/*.jsonl`` event written since the run began and compares, per
(event, user), how often it happened with how often the rehearsal called the
tool that writes it.  Refused calls write nothing and are not counted.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from agentdock import paths
from agentdock.rehearsal.records import StepRecord

__all__ = [
    "EVENT_OF_TOOL",
    "GIT_AUDIT_FILE",
    "audit_events",
    "audit_problems",
    "expected_events",
    "git_events",
]

GIT_AUDIT_FILE = "git-mcp-audit.jsonl"

#: Mutating QMS tools -> the audit event each writes (qms_create also writes CHECKOUT: created checked out).
EVENT_OF_TOOL: dict[str, str] = {
    "qms_create": "CREATE",
    "qms_checkout": "CHECKOUT",
    "qms_checkin": "CHECKIN",
    "qms_route": "ROUTE",
    "qms_assign": "ASSIGN",
    "qms_review": "REVIEW",
    "qms_approve": "APPROVE",
    "qms_reject": "REJECT",
    "qms_withdraw": "WITHDRAW",
    "qms_release": "RELEASE",
    "qms_close": "CLOSE",
    "qms_cancel": "CANCEL",
}


def _event_name(event: str) -> str:
    return "ROUTE" if event.startswith("ROUTE_") else event


def audit_events(root: Path, since: float) -> list[tuple[str, str]]:
    """``(event, user)`` of every counted audit event written at or after ``since`` (epoch seconds)."""
    counted = set(EVENT_OF_TOOL.values())
    found: list[tuple[str, str, str]] = []
    audit_dir = paths.qms_dir(root) / ".audit"
    for trail in sorted(audit_dir.glob("**/*.jsonl")):
        for line in trail.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                event = json.loads(line)
                at = datetime.fromisoformat(str(event["ts"]).replace("Z", "+00:00"))
            except (ValueError, KeyError, TypeError):
                continue
            if at.tzinfo is None:
                at = at.replace(tzinfo=UTC)
            name = _event_name(str(event.get("event")))
            if name in counted and at.timestamp() >= since:
                found.append((str(event["ts"]), name, str(event.get("user"))))
    return [(name, user) for _, name, user in sorted(found)]


def _epoch(text: object) -> float | None:
    try:
        at = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()


def git_events(root: Path, since: float) -> list[tuple[str, str]] | None:
    """``("git <command>", agent)`` for each command git-mcp ran since ``since``; None without its record."""
    record = paths.run_dir(root) / GIT_AUDIT_FILE
    try:
        lines = record.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return None
    found = []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        at = _epoch(entry.get("time")) if isinstance(entry, dict) else None
        if at is not None and at >= since and entry.get("outcome") == "ok":
            found.append((f"git {entry.get('command')}".replace("git git ", "git "), str(entry.get("agent"))))
    return found


def _counted(step: StepRecord, *, tried: bool) -> bool:
    """A successful call; with ``tried``, any call whose ``tool_use`` went out (it may have run once)."""
    if tried:
        return step.outcome == "ok" or (step.outcome == "failed" and step.tool_use_id is not None)
    return step.outcome == "ok" and not step.is_error


def expected_events(steps: Iterable[StepRecord], *, tried: bool = False) -> list[tuple[str, str]]:
    """The events the recorded successful calls should have written; with ``tried``, the most the
    issued calls may have written (a call the agent saw fail may still have run once)."""
    expected: list[tuple[str, str]] = []
    for step in steps:
        if not _counted(step, tried=tried):
            continue
        tool = step.tool.removeprefix("mcp__qms__")
        if tool in EVENT_OF_TOOL:
            expected.append((EVENT_OF_TOOL[tool], step.agent))
            if tool == "qms_create":
                expected.append(("CHECKOUT", step.agent))
        if tool == "mcp__git__git_exec" and step.input:
            expected.append((f"git {step.input.get('command')}".replace("git git ", "git "), step.agent))
    return expected


def audit_problems(root: Path, steps: Iterable[StepRecord], since: float) -> tuple[list[str], list[str]]:
    """``(problems, notes)``: each (event, user) whose count in the servers' records differs from the
    successful calls that should have written it; notes say what could not be checked."""
    steps = list(steps)
    happened = Counter(audit_events(root, since))
    called = Counter(expected_events(steps))
    tried = Counter(expected_events(steps, tried=True))
    problems: list[str] = []
    notes: list[str] = []
    gits = git_events(root, since)
    if gits is None:  # no record of git-mcp's to compare with: leave git calls out, say so
        called = Counter({k: n for k, n in called.items() if not k[0].startswith("git ")})
        tried = Counter({k: n for k, n in tried.items() if not k[0].startswith("git ")})
        notes.append(f"no {GIT_AUDIT_FILE} in {paths.run_dir(root)}; git calls not cross-checked")
    else:
        happened.update(gits)
    for key in sorted(set(happened) | set(called)):
        if happened[key] > tried[key]:
            problems.append(
                f"duplicate execution: {key[0]} by {key[1]} is in the audit trail {happened[key]} time(s), "
                f"called {tried[key]} time(s) ({called[key]} successfully)"
            )
        elif happened[key] > called[key]:
            problems.append(
                f"unseen execution: {key[0]} by {key[1]} is in the audit trail {happened[key]} time(s) but "
                f"succeeded only {called[key]} time(s): a call the agent saw fail ran on the server"
            )
        elif happened[key] < called[key]:
            problems.append(
                f"lost: {key[0]} by {key[1]} succeeded {called[key]} time(s) but is in the audit trail "
                f"{happened[key]} time(s)"
            )
    return problems, notes
