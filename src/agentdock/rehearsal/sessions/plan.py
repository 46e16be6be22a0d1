"""What one session trial does: its 20 calls, and the faults done between them (pure, seeded).

A session trial (``agentdock soak --mode session``) is one ``claude -p`` session
in a real agent container, driven by the scripted model through
`session_scenario`: 20 MCP calls, QMS and git mixed, reading and writing (two
change records drafted, checked out and in, one routed for review).  Every
call has an expectation, so a call that ran twice (a version bumped twice) or
answered wrongly fails even when Claude Code saw no error.

Between two calls, while the model holds its next ``tool_use``, the trial may
do a *mid-session fault* (`EVENTS`).  `draw_events` picks them from the
trial's seed, so ``--seed``/``--replay`` reproduce them:

* profile ``none``: no event (the baseline);
* ``restart``: qms-mcp restarted once;
* ``flaky``: each kind with probability 1/2 (at least one), short partitions;
* ``hostile``: each kind with probability 4/5, longer partitions, bigger bursts.

Events land on distinct calls from the third on (the first two open the
session and create the document the rest work on).  The profile's own faults
(latency, jitter, resets, a 503 burst at the start) apply all session long.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from agentdock.rehearsal.scenario import Expect, Scenario, Step, Turn, full_tool_name

__all__ = [
    "AGENT",
    "CALLS",
    "CREATES_PER_SESSION",
    "EVENTS",
    "SessionEvent",
    "draw_events",
    "session_scenario",
]

AGENT = "claude"

#: Mid-session faults, by name: what each does to the session's paths and servers.
EVENTS: dict[str, str] = {
    "restart-qms": "qms-mcp stopped and started again between two calls (it forgets every session)",
    "forget-session": "the servers end the session (a DELETE from the host): the next call gets 404",
    "burst-503": "live connections closed, then the next connections answered 503",
    "reset": "every live connection reset (RST) between two calls",
    "partition": "no byte passes either way for some seconds, then everything held flows on",
    "idle-gap": "no call for longer than the servers' session lifetime (they forget the session)",
}


@dataclass(frozen=True, slots=True)
class SessionEvent:
    """One mid-session fault: which, before which call (1-based), and how much."""

    kind: str
    before_call: int
    seconds: float = 0.0  # partition length, idle-gap length
    count: int = 0  # burst-503: connections answered 503

    def describe(self) -> str:
        amount = f" {self.seconds:g} s" if self.seconds else f" x{self.count}" if self.count else ""
        return f"{self.kind}{amount} before call {self.before_call}"


def _calls() -> list[tuple[str, dict[str, Any], str | None, Expect]]:
    """The session's 20 calls: (tool, input, save-as, expectation)."""
    cr, cr2 = "{{ cr.doc_id }}", "{{ cr2.doc_id }}"
    return [
        ("qms_inbox", {}, None, Expect()),
        ("qms_create", {"doc_type": "CR", "title": "Session soak {{ run_id }}"}, "cr",
         Expect(json={"status": "DRAFT"})),
        ("qms_checkin", {"doc_id": cr}, None, Expect(json={"checked_out": False, "version": "0.1"})),
        ("qms_status", {"doc_id": cr}, None, Expect(json={"status": "DRAFT", "version": "0.1"})),
        ("git_exec", {"command": "git status"}, None, Expect()),
        ("qms_checkout", {"doc_id": cr}, None, Expect(json={"checked_out": True})),
        ("qms_read", {"doc_id": cr}, None, Expect(contains=("Session soak",))),
        ("qms_checkin", {"doc_id": cr}, None, Expect(json={"checked_out": False, "version": "0.2"})),
        ("qms_history", {"doc_id": cr}, None, Expect(contains=("CHECKIN",))),
        ("qms_create", {"doc_type": "CR", "title": "Second session soak {{ run_id }}"}, "cr2",
         Expect(json={"status": "DRAFT"})),
        ("qms_checkin", {"doc_id": cr2}, None, Expect(json={"checked_out": False, "version": "0.1"})),
        ("git_exec", {"command": "git log --oneline -3"}, None, Expect()),
        ("qms_status", {"doc_id": cr2}, None, Expect(json={"version": "0.1"})),
        ("qms_comments", {"doc_id": cr}, None, Expect()),
        ("qms_route", {"doc_id": cr, "workflow": "review"}, None, Expect()),
        ("qms_status", {"doc_id": cr}, None, Expect(json={"status": "IN_PRE_REVIEW"})),
        ("qms_workspace", {}, None, Expect()),
        ("qms_checkout", {"doc_id": cr2}, None, Expect(json={"checked_out": True})),
        ("qms_checkin", {"doc_id": cr2}, None, Expect(json={"checked_out": False, "version": "0.2"})),
        ("qms_status", {"doc_id": cr2}, None, Expect(json={"status": "DRAFT", "version": "0.2"})),
    ]  # fmt: skip


CALLS = len(_calls())
#: Documents one session creates (the soak raises the project's create-rate limit to fit its run).
CREATES_PER_SESSION = sum(tool == "qms_create" for tool, *_ in _calls())

_CHANCE = {"none": 0.0, "flaky": 0.5, "hostile": 0.8}


def draw_events(seed: int, profile: str, lifetime_s: float) -> tuple[SessionEvent, ...]:
    """The mid-session faults of the trial seeded ``seed`` under ``profile`` (see the module doc)."""
    rng = random.Random(f"agentdock-session:{seed}")
    if profile == "restart":
        kinds = ["restart-qms"]
    else:
        chance = _CHANCE.get(profile, 0.0)
        kinds = [kind for kind in EVENTS if rng.random() < chance]
        if chance and not kinds:
            kinds = [rng.choice(list(EVENTS))]
    hostile = profile == "hostile"
    places = rng.sample(range(3, CALLS + 1), len(kinds))
    events = []
    for kind, place in zip(kinds, places, strict=True):
        seconds, count = 0.0, 0
        if kind == "partition":
            seconds = round(rng.uniform(2.0, 8.0 if hostile else 5.0), 1)
        elif kind == "idle-gap":
            seconds = round(lifetime_s + rng.uniform(1.0, 3.0), 1)
        elif kind == "burst-503":
            count = rng.randint(2, 5) if hostile else rng.randint(1, 3)
        events.append(SessionEvent(kind, place, seconds, count))
    return tuple(sorted(events, key=lambda e: e.before_call))


def session_scenario(name: str, events: tuple[SessionEvent, ...]) -> Scenario:
    """The one-turn scenario the scripted model plays for a session, with ``events`` as step faults."""
    at = {event.before_call: event for event in events}
    steps = []
    for number, (tool, tool_input, save, expect) in enumerate(_calls(), 1):
        event = at.get(number)
        steps.append(
            Step(
                tool=full_tool_name(tool),
                input=tool_input,
                save=save,
                expect=expect,
                fault=event.kind if event else None,
                wait_s=event.seconds if event and event.kind == "idle-gap" else 0.0,
            )
        )
    return Scenario(
        name=name,
        description=f"session soak: {CALLS} calls; "
        + (", ".join(e.describe() for e in events) or "no faults"),
        turns=(
            Turn(
                agent=AGENT,
                steps=tuple(steps),
                prompt="Work through two change records while the network and servers misbehave.",
                final="Session done: {{ cr.doc_id }} in review, {{ cr2.doc_id }} at 0.2.",
            ),
        ),
    )
