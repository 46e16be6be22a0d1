"""Scenario files: parsed and checked before anything runs; shipped scenarios load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agentdock.rehearsal.errors import ScenarioError
from agentdock.rehearsal.scenario import full_tool_name, load_scenario, parse_scenario, shipped_scenarios


def scenario(*steps: dict[str, Any], agent: str = "claude") -> dict[str, Any]:
    return {"name": "t", "turns": [{"agent": agent, "steps": list(steps)}]}


def test_shipped_scenarios_include_the_three_the_issue_asks_for() -> None:
    shipped = shipped_scenarios()
    assert {"cr-lifecycle", "sop-effective", "self-approval-refused"} <= set(shipped)
    cr = shipped["cr-lifecycle"]
    assert cr.agents == ["claude", "qa", "tu_ui"]
    assert cr.git_remote is True
    tools = [step.tool for _, _, _, step in cr.steps()]
    for needed in ("mcp__qms__qms_create", "Edit", "mcp__qms__qms_close", "mcp__git__git_exec"):
        assert needed in tools


def test_the_refusal_scenario_expects_an_error_from_the_self_approval() -> None:
    refused = shipped_scenarios()["self-approval-refused"]
    approvals = [
        (turn.agent, step) for _, _, turn, step in refused.steps() if step.tool.endswith("qms_approve")
    ]
    assert approvals[0][0] == "claude"
    assert approvals[0][1].expect.error is True
    assert approvals[-1][0] == "qa"
    assert approvals[-1][1].expect.error is False


def test_short_tool_names_expand_to_the_names_claude_code_offers() -> None:
    assert full_tool_name("qms_create") == "mcp__qms__qms_create"
    assert full_tool_name("git_exec") == "mcp__git__git_exec"
    assert full_tool_name("Edit") == "Edit"
    assert full_tool_name("mcp__qms__qms_read") == "mcp__qms__qms_read"


def test_a_reference_to_a_name_no_earlier_step_saves_is_refused_at_load_time() -> None:
    data = scenario(
        {"tool": "qms_checkin", "input": {"doc_id": "{{ cr.doc_id }}"}},
        {"tool": "qms_create", "input": {"doc_type": "CR", "title": "x"}, "save": "cr"},
    )
    with pytest.raises(ScenarioError, match=r"turns\[1\]\.steps\[1\]\.input: refers to \['cr'\]"):
        parse_scenario(data, "f.yaml")


def test_saved_names_carry_across_turns_and_builtins_are_always_known() -> None:
    data = {
        "name": "t",
        "turns": [
            {
                "agent": "claude",
                "steps": [{"tool": "qms_create", "input": {"doc_type": "CR", "title": "x"}, "save": "cr"}],
            },
            {
                "agent": "qa",
                "steps": [
                    {"tool": "qms_read", "input": {"doc_id": "{{ cr.doc_id }}", "x": "{{ workspace }}"}}
                ],
            },
        ],
    }
    parsed = parse_scenario(data)
    assert [t.agent for t in parsed.turns] == ["claude", "qa"]


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ({"tool": "qms_inbox", "bogus": 1}, r"unknown field\(s\) \['bogus'\]"),
        ({"tool": "qms_inbox", "wait_s": -1}, "wait_s: expected seconds"),
        ({"tool": "qms_inbox", "wait_s": True}, "wait_s: expected seconds"),
        ({"tool": "qms_inbox", "save": "agent"}, "is not a usable name"),
        ({"tool": "rm -rf /"}, "is not a tool name"),
        ({"tool": "qms_inbox", "expect": {"error": "yes"}}, "error: expected true or false"),
        ({"tool": "qms_inbox", "expect": {"contains": [1]}}, "contains: expected text"),
        ({"input": {}}, r"\.tool: expected non-empty text"),
    ],
)
def test_malformed_steps_name_the_field(step: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(scenario(step), "f.yaml")


def test_an_empty_scenario_is_refused() -> None:
    with pytest.raises(ScenarioError, match="turns: expected a non-empty list"):
        parse_scenario({"name": "t", "turns": []})


def test_a_file_is_loaded_by_path_and_bad_yaml_is_a_scenario_error(tmp_path: Path) -> None:
    good = tmp_path / "mine.yaml"
    good.write_text("name: mine\nturns:\n  - agent: claude\n    steps:\n      - tool: qms_inbox\n")
    assert load_scenario(str(good)).name == "mine"
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load_scenario(str(bad))


def test_neither_a_name_nor_a_file_lists_the_shipped_names() -> None:
    with pytest.raises(ScenarioError, match=r"neither a shipped scenario .*cr-lifecycle"):
        load_scenario("no-such-scenario")


def test_an_unknown_fault_is_refused_and_shipped_faults_are_listed() -> None:
    with pytest.raises(
        ScenarioError, match=r"fault: 'unplug' is not one of \['restart-qms', 'restart-servers'\]"
    ):
        parse_scenario(scenario({"tool": "qms_inbox", "fault": "unplug"}), "f.yaml")
    assert shipped_scenarios()["restart-mid-session"].faults == {"restart-qms", "restart-servers"}
