"""Scenarios: which agent takes which turn, and the steps the scripted model plays in each.

A scenario file is YAML::

    name: sop-effective
    description: an SOP from draft to EFFECTIVE
    git_remote: false            # true: the throw-away project gets a bare remote to push to
    turns:
      - agent: claude
        prompt: Write the SOP.   # optional; what `claude -p` is asked (the model ignores it)
        steps:
          - tool: qms_create     # qms_* and git_exec are short for mcp__qms__qms_* / mcp__git__git_exec
            input: {doc_type: SOP, title: Rehearsal SOP}
            save: sop            # later inputs may use {{ sop.doc_id }} (the result's JSON)
            expect: {json: {status: DRAFT}}
          - tool: Read
            input: {file_path: "{{ project_dir }}/{{ sop.workspace_file }}"}
            wait_s: 2            # an idle gap before this call
            fault: restart-qms   # (throw-away projects) done during the gap, before the call
        final: SOP drafted.      # the turn's closing text

``expect`` holds ``error`` (default false: the call must succeed; true: it must
be refused), ``contains`` (text or list of texts the result must contain) and
``json`` (dotted path -> value the result's JSON must hold).  Every reference
must name a built-in (`BUILTINS`) or a ``save`` of an earlier step; that is
checked when the file is loaded, before anything runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from agentdock.rehearsal.errors import ScenarioError
from agentdock.rehearsal.template import references

__all__ = [
    "BUILTINS",
    "FAULTS",
    "Expect",
    "Scenario",
    "Step",
    "Turn",
    "full_tool_name",
    "load_scenario",
    "parse_scenario",
    "shipped_scenarios",
]

#: Names every template may use: filled in for each turn by the runner.
BUILTINS: frozenset[str] = frozenset({"agent", "project_dir", "workspace", "run_id", "turn"})
#: Faults a step may ask for, done by the runner while the step is held (before its tool_use goes out).
FAULTS: dict[str, str] = {
    "restart-qms": "qms-mcp stopped and started again between two calls of the session",
    "restart-servers": "qms-mcp and git-mcp both stopped and started again",
}
_NAME = re.compile(r"[A-Za-z_][\w-]{0,63}")
_TOOL = re.compile(r"[A-Za-z_][\w-]{0,127}")
MAX_WAIT_S = 3600.0


def full_tool_name(name: str) -> str:
    """``qms_create`` -> ``mcp__qms__qms_create``, ``git_exec`` -> ``mcp__git__git_exec``; others unchanged."""
    if name.startswith("qms_"):
        return f"mcp__qms__{name}"
    if name == "git_exec":
        return "mcp__git__git_exec"
    return name


@dataclass(frozen=True)
class Expect:
    """What a step's result must show."""

    error: bool = False
    contains: tuple[str, ...] = ()
    json: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    tool: str  # the full tool name Claude Code offers (mcp__qms__qms_create, Edit, ...)
    input: Mapping[str, Any] = field(default_factory=dict)
    save: str | None = None
    wait_s: float = 0.0
    fault: str | None = None
    expect: Expect = field(default_factory=Expect)


@dataclass(frozen=True)
class Turn:
    agent: str
    steps: tuple[Step, ...]
    prompt: str = "Carry on with your QMS work."
    final: str = "Done."


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    turns: tuple[Turn, ...]
    git_remote: bool = False
    source: str = "<memory>"

    @property
    def faults(self) -> set[str]:
        """The faults its steps ask for."""
        return {step.fault for _, _, _, step in self.steps() if step.fault}

    @property
    def agents(self) -> list[str]:
        """Every agent that takes a turn, in order of first appearance."""
        return list(dict.fromkeys(turn.agent for turn in self.turns))

    def steps(self) -> Iterator[tuple[int, int, Turn, Step]]:
        """``(turn index, step index, turn, step)`` for every step, in order (indexes from 1)."""
        for t, turn in enumerate(self.turns, 1):
            for s, step in enumerate(turn.steps, 1):
                yield t, s, turn, step


def _fail(source: str, where: str, message: str) -> ScenarioError:
    return ScenarioError(f"{source}: {where}: {message}")


def _mapping(value: Any, source: str, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(source, where, f"expected a mapping, got {type(value).__name__}")
    return value


def _only(data: Mapping[str, Any], allowed: set[str], source: str, where: str) -> None:
    unknown = set(data) - allowed
    if unknown:
        raise _fail(source, where, f"unknown field(s) {sorted(unknown)}; allowed: {sorted(allowed)}")


def _text(value: Any, source: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(source, where, "expected non-empty text")
    return value


def _expect(data: Any, source: str, where: str) -> Expect:
    if data is None:
        return Expect()
    data = _mapping(data, source, where)
    _only(data, {"error", "contains", "json"}, source, where)
    error = data.get("error", False)
    if not isinstance(error, bool):
        raise _fail(source, f"{where}.error", "expected true or false")
    contains = data.get("contains", ())
    if isinstance(contains, str):
        contains = (contains,)
    if not isinstance(contains, list | tuple) or not all(isinstance(c, str) for c in contains):
        raise _fail(source, f"{where}.contains", "expected text or a list of texts")
    json_fields = dict(_mapping(data.get("json", {}), source, f"{where}.json"))
    return Expect(error=error, contains=tuple(contains), json=json_fields)


def _step(data: Any, source: str, where: str, known: set[str]) -> Step:
    data = _mapping(data, source, where)
    _only(data, {"tool", "input", "save", "wait_s", "fault", "expect"}, source, where)
    tool = _text(data.get("tool"), source, f"{where}.tool")
    if not _TOOL.fullmatch(tool):
        raise _fail(source, f"{where}.tool", f"{tool!r} is not a tool name")
    tool_input = dict(_mapping(data.get("input", {}), source, f"{where}.input"))
    unknown = references(tool_input) - known
    if unknown:
        raise _fail(
            source,
            f"{where}.input",
            f"refers to {sorted(unknown)}, which no earlier step saves (known: {sorted(known)})",
        )
    save = data.get("save")
    if save is not None and (not isinstance(save, str) or not _NAME.fullmatch(save) or save in BUILTINS):
        raise _fail(source, f"{where}.save", f"{save!r} is not a usable name (or is a built-in)")
    wait_s = data.get("wait_s", 0)
    if isinstance(wait_s, bool) or not isinstance(wait_s, int | float) or not 0 <= wait_s <= MAX_WAIT_S:
        raise _fail(source, f"{where}.wait_s", f"expected seconds between 0 and {MAX_WAIT_S:g}")
    fault = data.get("fault")
    if fault is not None and fault not in FAULTS:
        raise _fail(source, f"{where}.fault", f"{fault!r} is not one of {sorted(FAULTS)}")
    return Step(
        tool=full_tool_name(tool),
        fault=fault,
        input=tool_input,
        save=save,
        wait_s=float(wait_s),
        expect=_expect(data.get("expect"), source, f"{where}.expect"),
    )


def parse_scenario(data: Any, source: str = "<memory>") -> Scenario:
    """A validated `Scenario` from parsed YAML; ScenarioError naming the field otherwise."""
    data = _mapping(data, source, "top level")
    _only(data, {"name", "description", "git_remote", "turns"}, source, "top level")
    name = _text(data.get("name"), source, "name")
    if not _NAME.fullmatch(name):
        raise _fail(source, "name", f"{name!r}: use letters, digits, '-' and '_'")
    git_remote = data.get("git_remote", False)
    if not isinstance(git_remote, bool):
        raise _fail(source, "git_remote", "expected true or false")
    raw_turns = data.get("turns")
    if not isinstance(raw_turns, list) or not raw_turns:
        raise _fail(source, "turns", "expected a non-empty list of turns")
    known: set[str] = set(BUILTINS)
    turns: list[Turn] = []
    for t, raw_turn in enumerate(raw_turns, 1):
        where = f"turns[{t}]"
        raw = _mapping(raw_turn, source, where)
        _only(raw, {"agent", "prompt", "steps", "final"}, source, where)
        agent = _text(raw.get("agent"), source, f"{where}.agent")
        if not _NAME.fullmatch(agent):
            raise _fail(source, f"{where}.agent", f"{agent!r} is not an agent name")
        raw_steps = raw.get("steps")
        if not isinstance(raw_steps, list) or not raw_steps:
            raise _fail(source, f"{where}.steps", "expected a non-empty list of steps")
        steps = []
        for s, raw_step in enumerate(raw_steps, 1):
            step = _step(raw_step, source, f"{where}.steps[{s}]", known)
            steps.append(step)
            if step.save:
                known.add(step.save)
        turn = Turn(agent=agent, steps=tuple(steps))
        if "prompt" in raw:
            turn = Turn(agent, turn.steps, prompt=_text(raw["prompt"], source, f"{where}.prompt"))
        final = raw.get("final")
        if final is not None:
            unknown = references(final) - known
            if unknown:
                raise _fail(source, f"{where}.final", f"refers to {sorted(unknown)}, which no step saves")
            turn = Turn(agent, turn.steps, prompt=turn.prompt, final=_text(final, source, f"{where}.final"))
        turns.append(turn)
    description = data.get("description", "")
    if not isinstance(description, str):
        raise _fail(source, "description", "expected text")
    return Scenario(
        name=name,
        description=" ".join(description.split()),
        turns=tuple(turns),
        git_remote=git_remote,
        source=source,
    )


def _load_text(text: str, source: str) -> Scenario:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{source}: not valid YAML: {exc}") from exc
    return parse_scenario(data, source)


def shipped_scenarios() -> dict[str, Scenario]:
    """The scenarios shipped in ``agentdock/rehearsal/scenarios/``, by name."""
    folder = resources.files("agentdock.rehearsal").joinpath("scenarios")
    found: dict[str, Scenario] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith((".yaml", ".yml")):
            scenario = _load_text(entry.read_text(encoding="utf-8"), f"scenarios/{entry.name}")
            found[scenario.name] = scenario
    return found


def load_scenario(name_or_file: str) -> Scenario:
    """A shipped scenario by name, else a YAML file by path; ScenarioError saying which were tried."""
    shipped = shipped_scenarios()
    if name_or_file in shipped:
        return shipped[name_or_file]
    path = Path(name_or_file)
    if not path.is_file():
        names = ", ".join(shipped) or "none"
        raise ScenarioError(f"{name_or_file!r} is neither a shipped scenario ({names}) nor a file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot read: {exc}") from exc
    return _load_text(text, str(path))
