"""agentdock.rehearsal: real Claude Code sessions driven by a scripted model.

* :class:`ScriptedModel` plays a :class:`Scenario`'s steps as Messages API replies (the wire
  format built from the ``anthropic`` SDK's types, :mod:`agentdock.rehearsal.wire`) and records
  every request and every step's outcome; :func:`create_app`/:func:`serve_model` put it on HTTP.
* :func:`rehearse` runs a scenario in real agent containers (``agentdock rehearse``), one
  ``claude -p`` per turn, and returns a :class:`RehearsalResult`.
* Shipped scenarios live in ``scenarios/*.yaml`` (:func:`shipped_scenarios`).
"""

from agentdock.rehearsal.errors import RehearsalError, RehearsalSetupError, ScenarioError, TemplateError
from agentdock.rehearsal.expect import ToolResult, check
from agentdock.rehearsal.model import Answer, ScriptedModel, turn_marker
from agentdock.rehearsal.records import RequestRecord, StepRecord, TurnRecord
from agentdock.rehearsal.runner import RehearsalOptions, RehearsalResult, rehearse
from agentdock.rehearsal.scenario import (
    Expect,
    Scenario,
    Step,
    Turn,
    full_tool_name,
    load_scenario,
    parse_scenario,
    shipped_scenarios,
)
from agentdock.rehearsal.server import create_app, serve_model
from agentdock.rehearsal.template import render

__all__ = [
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
