"""agentdock.rehearsal: real Claude Code sessions driven by a scripted model.

* :class:`ScriptedModel` plays a :class:`Scenario`'s steps as Messages API replies (the wire
  format built from the ``anthropic`` SDK's types, :mod:`agentdock.rehearsal.wire`) and records
  every request and every step's outcome; :func:`create_app`/:func:`serve_model` put it on HTTP.
* :func:`rehearse` runs a scenario in real agent containers (``agentdock rehearse``), one
  ``claude -p`` per turn, and returns a :class:`RehearsalResult`.
* Shipped scenarios live in ``scenarios/*.yaml`` (:func:`shipped_scenarios`).

The names that need the ``anthropic`` SDK (the ``rehearsal`` extra) are imported on first use,
so scenarios can be listed and checked without it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from agentdock.rehearsal.errors import RehearsalError, RehearsalSetupError, ScenarioError, TemplateError
from agentdock.rehearsal.expect import ToolResult, check
from agentdock.rehearsal.options import RehearsalOptions
from agentdock.rehearsal.records import RequestRecord, StepRecord, TurnRecord
from agentdock.rehearsal.scenario import (
    FAULTS,
    Expect,
    Scenario,
    Step,
    Turn,
    full_tool_name,
    load_scenario,
    parse_scenario,
    shipped_scenarios,
)
from agentdock.rehearsal.template import render

if TYPE_CHECKING:
    from agentdock.rehearsal.model import Answer, ScriptedModel, turn_marker
    from agentdock.rehearsal.runner import RehearsalResult, rehearse
    from agentdock.rehearsal.server import create_app, serve_model

_LAZY = {
    "Answer": "agentdock.rehearsal.model",
    "ScriptedModel": "agentdock.rehearsal.model",
    "turn_marker": "agentdock.rehearsal.model",
    "RehearsalResult": "agentdock.rehearsal.runner",
    "rehearse": "agentdock.rehearsal.runner",
    "create_app": "agentdock.rehearsal.server",
    "serve_model": "agentdock.rehearsal.server",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "FAULTS",
    "Answer",
    "Expect",
    "RehearsalError",
    "RehearsalOptions",
    "RehearsalResult",
    "RehearsalSetupError",
    "RequestRecord",
    "Scenario",
    "ScenarioError",
    "ScriptedModel",
    "Step",
    "StepRecord",
    "TemplateError",
    "ToolResult",
    "Turn",
    "TurnRecord",
    "check",
    "create_app",
    "full_tool_name",
    "load_scenario",
    "parse_scenario",
    "rehearse",
    "render",
    "serve_model",
    "shipped_scenarios",
    "turn_marker",
]
