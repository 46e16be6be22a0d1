"""The scripted model: which reply a Messages API request gets, and what each step's result was.

`ScriptedModel.answer` is pure bookkeeping (no I/O): the HTTP layer hands it
the caller's agent (from its API key) and the request body, and gets back a
`wire.Reply` plus how long to hold it (a step's ``wait_s``).

A *main* request carries tools and, in its first user message, the turn
marker the runner put in the prompt (``[rehearsal RUN turn N]``).  Its place
in the script is read from the conversation itself: the number of this turn's
scripted ``tool_use`` ids whose ``tool_result`` is present.  So a request
repeated by a retrying client gets the same reply and is not counted twice.
Every newly arrived result is judged against its step's expectations and,
with ``save``, kept for later templates.  Then the next step's ``tool_use`` is
sent — unless its tool is not among the request's tools, its input cannot be
rendered, or an earlier step failed: then the turn ends with text saying why,
and the step is recorded as failed (loudly, never skipped).

Anything else — no tools (title generation, quota checks, a small-model
call), no marker (a sub-agent) — is a *side* request: answered with short text,
recorded, and it consumes no step.
"""

from __future__ import annotations

import itertools
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from agentdock.rehearsal.errors import TemplateError
from agentdock.rehearsal.expect import check, tool_result_from_block
from agentdock.rehearsal.records import RequestRecord, StepRecord, TurnRecord
from agentdock.rehearsal.scenario import Scenario, Turn
from agentdock.rehearsal.template import render
from agentdock.rehearsal.wire import Reply, ToolCall

__all__ = ["MARKER", "SIDE_TEXT", "Answer", "ScriptedModel", "turn_marker"]

log = logging.getLogger(__name__)

MARKER = re.compile(r"\[rehearsal (?P<run>[0-9a-z]+) turn (?P<turn>\d+)\]")
SIDE_TEXT = "OK."


def turn_marker(run_id: str, turn: int) -> str:
    """The text the runner puts in turn ``turn``'s prompt so the model knows which script to play."""
    return f"[rehearsal {run_id} turn {turn}]"


@dataclass(frozen=True)
class _Request:
    tools: list[str]
    messages: list[Any]
    model: str
    reply_id: str
    stream: bool
    path: str


@dataclass(frozen=True)
class Answer:
    reply: Reply
    wait_s: float = 0.0  # hold the reply this long (an idle gap), pinging meanwhile
    fault: Callable[[], Awaitable[None]] | None = None  # done while the reply is held, before the rest


def _first_user_text(messages: list[Any]) -> str:
    for message in messages:
        if isinstance(message, Mapping) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return "\n".join(
                    str(b.get("text", ""))
                    for b in content
                    if isinstance(b, Mapping) and b.get("type") == "text"
                )
    return ""


def _tool_results(messages: list[Any]) -> dict[str, Mapping[str, Any]]:
    found: dict[str, Mapping[str, Any]] = {}
    for message in messages:
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, list):
            for block in content:
                if isinstance(block, Mapping) and block.get("type") == "tool_result":
                    found[str(block.get("tool_use_id"))] = block
    return found


class ScriptedModel:
    """Plays ``scenario``'s steps to the agents' Claude Code sessions and records what happened."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        run_id: str | None = None,
        project_dir: str = "/project",
        clock: Callable[[], float] = time.monotonic,
        faults: Mapping[str, Callable[[], Awaitable[None]]] | None = None,
    ) -> None:
        self.scenario = scenario
        self.run_id = run_id or secrets.token_hex(4)
        self.project_dir = project_dir
        self.clock = clock
        self.faults = dict(faults or {})
        self.saved: dict[str, Any] = {}
        self.steps: dict[tuple[int, int], StepRecord] = {
            (t, s): StepRecord(turn=t, step=s, agent=turn.agent, tool=step.tool)
            for t, s, turn, step in scenario.steps()
        }
        self.turns: dict[int, TurnRecord] = {
            t: TurnRecord(turn=t, agent=turn.agent) for t, turn in enumerate(scenario.turns, 1)
        }
        self.requests: list[RequestRecord] = []
        self._numbers = itertools.count(1)

    # -- bookkeeping ---------------------------------------------------------------------------------
    def marker(self, turn: int) -> str:
        return turn_marker(self.run_id, turn)

    def tool_use_id(self, turn: int, step: int) -> str:
        return f"toolu_rh{self.run_id}t{turn:03d}s{step:03d}"

    def context(self, turn: int) -> dict[str, Any]:
        agent = self.scenario.turns[turn - 1].agent
        return {
            **self.saved,
            "agent": agent,
            "project_dir": self.project_dir,
            "workspace": f"{self.project_dir}/.claude/users/{agent}/workspace",
            "run_id": self.run_id,
            "turn": turn,
        }

    def record(self, method: str, path: str, agent: str | None, kind: str, **fields: Any) -> RequestRecord:
        entry = RequestRecord(next(self._numbers), time.time(), method, path, agent, kind, **fields)
        self.requests.append(entry)
        return entry

    def failed_steps(self) -> list[StepRecord]:
        return [r for r in self.steps.values() if r.outcome != "ok"]

    # -- answering -----------------------------------------------------------------------------------
    def answer(self, agent: str, body: Mapping[str, Any], path: str = "/v1/messages") -> Answer:
        """The reply to one ``POST /v1/messages`` from ``agent``."""
        model = str(body.get("model") or "claude-rehearsal")
        tools = [str(t.get("name")) for t in body.get("tools") or [] if isinstance(t, Mapping)]
        messages = list(body.get("messages") or [])
        stream = bool(body.get("stream"))
        reply_id = f"msg_rh{self.run_id}{next(self._numbers):05d}"
        found = MARKER.search(_first_user_text(messages))
        turn_index = int(found.group("turn")) if found and found.group("run") == self.run_id else None
        if not tools or turn_index is None or turn_index not in self.turns:
            note = "no tools" if not tools else "no turn marker"
            self.record("POST", path, agent, "side", model=model, tools=len(tools), stream=stream, note=note)
            return Answer(Reply(id=reply_id, model=model, text=SIDE_TEXT))
        turn = self.scenario.turns[turn_index - 1]
        if turn.agent != agent:
            text = f"Rehearsal failure: turn {turn_index} belongs to {turn.agent}, but {agent}'s key asked for it."
            self.turns[turn_index].problems.append(text)
            self.record("POST", path, agent, "refused", turn=turn_index, model=model, note=text)
            return Answer(Reply(id=reply_id, model=model, text=text))
        request = _Request(tools, messages, model, reply_id, stream, path)
        return self._play(turn_index, turn, request)

    def _judge(self, turn_index: int, turn: Turn, results: Mapping[str, Mapping[str, Any]]) -> int:
        """Judge newly arrived results; return how many of the turn's steps have a result."""
        answered = 0
        for s, step in enumerate(turn.steps, 1):
            record = self.steps[(turn_index, s)]
            block = results.get(self.tool_use_id(turn_index, s))
            if block is None:
                break
            answered = s
            if record.outcome != "issued":
                continue  # judged already (a repeated request)
            result = tool_result_from_block(block)
            record.is_error, record.result = result.is_error, result.text[:4000]
            if record.issued_at is not None:
                record.latency_ms = round((self.clock() - record.issued_at) * 1000.0, 1)
            problems = check(step.expect, result, self.context(turn_index))
            if problems:
                for problem in problems:
                    record.fail(problem)
                log.error("turn %s step %s (%s) failed: %s", turn_index, s, step.tool, "; ".join(problems))
            else:
                record.outcome = "ok"
                if step.save:
                    self.saved[step.save] = result.saved()
        return answered

    def _play(self, turn_index: int, turn: Turn, request: _Request) -> Answer:
        tools, model, reply_id, path = request.tools, request.model, request.reply_id, request.path
        messages, stream = request.messages, request.stream
        answered = self._judge(turn_index, turn, _tool_results(messages))
        fields: dict[str, Any] = {"turn": turn_index, "model": model, "tools": len(tools), "stream": stream}
        failed = [r for (t, _), r in self.steps.items() if t == turn_index and r.outcome == "failed"]
        if failed:
            first = failed[0]
            text = f"Rehearsal stopped at step {first.step} ({first.tool}): {'; '.join(first.problems)}"
            self.turns[turn_index].finished = True
            self.record("POST", path, turn.agent, "final", step=first.step, note="stopped", **fields)
            return Answer(Reply(id=reply_id, model=model, text=text))
        if answered >= len(turn.steps):
            self.turns[turn_index].finished = True
            self.record("POST", path, turn.agent, "final", **fields)
            try:
                final = str(render(turn.final, self.context(turn_index)))
            except TemplateError as exc:
                final = turn.final
                self.turns[turn_index].problems.append(f"final: {exc}")
            return Answer(Reply(id=reply_id, model=model, text=final))
        s = answered + 1
        step = turn.steps[s - 1]
        record = self.steps[(turn_index, s)]
        if record.outcome == "issued":  # the same request again: the same reply, counted once
            record.reissued += 1
            assert record.input is not None
            call = ToolCall(id=self.tool_use_id(turn_index, s), name=step.tool, input=record.input)
            self.record("POST", path, turn.agent, "step", step=s, note="repeated", **fields)
            return Answer(Reply(id=reply_id, model=model, tool_calls=(call,)))
        problem = None
        if step.tool not in tools:
            offered = ", ".join(sorted(tools))
            problem = f"tool {step.tool} is not among the {len(tools)} tools Claude Code offered ({offered})"
        else:
            try:
                rendered = render(dict(step.input), self.context(turn_index))
            except TemplateError as exc:
                problem = f"input: {exc}"
        if problem is not None:
            record.fail(problem)
            log.error("turn %s step %s: %s", turn_index, s, problem)
            self.turns[turn_index].finished = True
            self.record("POST", path, turn.agent, "final", step=s, note="stopped", **fields)
            return Answer(Reply(id=reply_id, model=model, text=f"Rehearsal stopped at step {s}: {problem}"))
        record.outcome, record.input = "issued", rendered
        record.tool_use_id = self.tool_use_id(turn_index, s)
        record.issued_at = self.clock() + step.wait_s
        self.record("POST", path, turn.agent, "step", step=s, **fields)
        call = ToolCall(id=record.tool_use_id, name=step.tool, input=rendered)
        fault = self._fault(record, step.fault)
        reply = Reply(id=reply_id, model=model, tool_calls=(call,))
        return Answer(reply, wait_s=step.wait_s, fault=fault)

    def _fault(self, record: StepRecord, name: str | None) -> Callable[[], Awaitable[None]] | None:
        """The step's fault, wrapped to time it and to push the step's clock past it."""
        if name is None:
            return None
        action = self.faults.get(name)
        if action is None:
            record.fail(f"fault {name!r}: this run cannot do it (only on a throw-away project)")
            return None

        async def applied() -> None:
            began = self.clock()
            try:
                await action()
            except Exception as exc:  # a fault that could not be done fails the step (recorded, shown)
                record.fail(f"fault {name!r} could not be done: {type(exc).__name__}: {exc}")
            finally:
                record.fault = name
                record.fault_ms = round((self.clock() - began) * 1000.0, 1)
                if record.issued_at is not None:
                    record.issued_at += self.clock() - began

        return applied
