"""The scripted model over its ASGI app: steps in order, templated inputs, expectations, loud failures."""

from __future__ import annotations

import pytest

from agentdock.rehearsal.model import SIDE_TEXT, ScriptedModel

from .conftest import Conversation, created

pytestmark = pytest.mark.anyio


def tool_use(reply: dict) -> dict:
    uses = [b for b in reply["content"] if b["type"] == "tool_use"]
    assert len(uses) == 1, reply
    return uses[0]


async def test_a_turn_plays_its_steps_in_order_with_inputs_templated_from_earlier_results(
    client, model
) -> None:
    chat = Conversation(client, model, 1, "key-claude")
    first = (await chat.send()).json()
    assert first["stop_reason"] == "tool_use"
    assert tool_use(first)["name"] == "mcp__qms__qms_create"
    assert tool_use(first)["input"] == {"doc_type": "CR", "title": "T"}

    chat.answer(first, created("CR-042"))
    second = (await chat.send()).json()
    assert tool_use(second)["name"] == "mcp__qms__qms_checkin"
    assert tool_use(second)["input"] == {"doc_id": "CR-042"}

    chat.answer(second, "Checked in CR-042 v0.1 (DRAFT).")
    last = (await chat.send()).json()
    assert last["stop_reason"] == "end_turn"
    assert last["content"] == [{"type": "text", "text": "All done with CR-042."}]
    assert [r.outcome for r in model.steps.values()][:2] == ["ok", "ok"]
    assert model.turns[1].finished
    assert model.saved["cr"]["doc_id"] == "CR-042"
    assert [(r.kind, r.step) for r in model.requests] == [("step", 1), ("step", 2), ("final", None)]


async def test_a_step_whose_tool_claude_code_did_not_offer_fails_loudly(client, model) -> None:
    chat = Conversation(client, model, 1, "key-claude")
    reply = (await chat.send(tools=["Read", "Edit", "mcp__git__git_exec"])).json()
    assert reply["stop_reason"] == "end_turn"
    assert "Rehearsal stopped at step 1" in reply["content"][0]["text"]
    record = model.steps[(1, 1)]
    assert record.outcome == "failed"
    assert "mcp__qms__qms_create is not among the 3 tools" in record.problems[0]
    assert "mcp__git__git_exec" in record.problems[0]


async def test_a_result_that_breaks_an_expectation_fails_the_step_and_ends_the_turn(client, model) -> None:
    chat = Conversation(client, model, 1, "key-claude")
    first = (await chat.send()).json()
    chat.answer(first, '{"doc_id": "CR-001", "status": "IN_REVIEW"}')
    reply = (await chat.send()).json()
    assert reply["stop_reason"] == "end_turn"
    record = model.steps[(1, 1)]
    assert record.outcome == "failed"
    assert record.problems == ["status is 'IN_REVIEW', expected 'DRAFT'"]
    assert model.steps[(1, 2)].outcome == "pending"


async def test_an_unexpected_error_result_fails_and_an_expected_refusal_holds(client, model) -> None:
    chat = Conversation(client, model, 1, "key-claude")
    first = (await chat.send()).json()
    chat.answer(first, "refused [permission.create]", is_error=True)
    await chat.send()
    assert model.steps[(1, 1)].outcome == "failed"
    assert "expected success, got an error: refused [permission.create]" in model.steps[(1, 1)].problems[0]

    model.saved["cr"] = {"doc_id": "CR-001"}
    qa = Conversation(client, model, 2, "key-qa")
    approve = (await qa.send()).json()
    assert tool_use(approve)["input"] == {"doc_id": "CR-001"}
    qa.answer(approve, "refused [permission.approve]: qa is not an assigned approver", is_error=True)
    done = (await qa.send()).json()
    assert done["stop_reason"] == "end_turn"
    assert model.steps[(2, 1)].outcome == "ok"
    assert model.steps[(2, 1)].is_error is True


async def test_side_requests_without_tools_are_answered_and_consume_no_step(client, model) -> None:
    chat = Conversation(client, model, 1, "key-claude")
    side = (await chat.send(tools=[])).json()
    assert side["content"] == [{"type": "text", "text": SIDE_TEXT}]
    unmarked = Conversation(client, model, 1, "key-claude")
    unmarked.messages[0]["content"][0]["text"] = "Generate a title for this conversation."
    other = (await unmarked.send()).json()
    assert other["stop_reason"] == "end_turn"
    step = (await chat.send()).json()
    assert tool_use(step)["name"] == "mcp__qms__qms_create"
    assert [r.kind for r in model.requests] == ["side", "side", "step"]


async def test_a_repeated_request_gets_the_same_tool_use_and_is_counted_once(client, model) -> None:
    chat = Conversation(client, model, 1, "key-claude")
    first = (await chat.send()).json()
    again = (await chat.send()).json()
    assert tool_use(again) == tool_use(first)
    assert model.steps[(1, 1)].reissued == 1
    chat.answer(first, created())
    assert tool_use((await chat.send()).json())["name"] == "mcp__qms__qms_checkin"


async def test_a_key_that_is_not_the_turns_agent_is_refused(client, model) -> None:
    chat = Conversation(client, model, 1, "key-qa")
    reply = (await chat.send()).json()
    assert "turn 1 belongs to claude" in reply["content"][0]["text"]
    assert model.steps[(1, 1)].outcome == "pending"
    assert model.requests[-1].kind == "refused"


async def test_an_unknown_api_key_gets_the_apis_authentication_error(client, model) -> None:
    response = await client.post("/v1/messages", json={"messages": []}, headers={"x-api-key": "nope"})
    assert response.status_code == 401
    assert response.json() == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "invalid x-api-key"},
    }
    bearer = await client.post(
        "/v1/messages/count_tokens", json={}, headers={"authorization": "Bearer key-qa"}
    )
    assert bearer.status_code == 200


async def test_other_endpoints_are_answered_harmlessly_and_recorded(client, model) -> None:
    counted = await client.post(
        "/v1/messages/count_tokens",
        json={"messages": [{"role": "user", "content": "x" * 400}]},
        headers={"x-api-key": "key-qa"},
    )
    assert counted.json()["input_tokens"] > 50
    other = await client.get("/api/oauth/profile", headers={"x-api-key": "key-qa"})
    assert other.status_code == 200
    assert other.json() == {}
    assert [(r.kind, r.path) for r in model.requests] == [
        ("other", "/v1/messages/count_tokens"),
        ("other", "/api/oauth/profile"),
    ]


async def test_a_malformed_body_is_a_clear_400(client) -> None:
    response = await client.post("/v1/messages", content=b"{not json", headers={"x-api-key": "key-qa"})
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_tool_use_ids_differ_between_runs() -> None:
    from agentdock.rehearsal.scenario import parse_scenario

    from .conftest import TWO_STEPS

    one = ScriptedModel(parse_scenario(TWO_STEPS)).tool_use_id(1, 1)
    two = ScriptedModel(parse_scenario(TWO_STEPS)).tool_use_id(1, 1)
    assert one != two


async def test_a_steps_fault_is_done_while_the_reply_is_held_before_the_tool_use_goes_out() -> None:
    import httpx

    from agentdock.rehearsal.scenario import parse_scenario
    from agentdock.rehearsal.server import create_app

    from .conftest import KEYS

    done: list[str] = []

    async def restart() -> None:
        done.append("restart-qms")

    scenario = parse_scenario(
        {
            "name": "f",
            "turns": [{"agent": "claude", "steps": [{"tool": "qms_create", "fault": "restart-qms"}]}],
        }
    )
    faulty = ScriptedModel(scenario, run_id="f1", faults={"restart-qms": restart})
    app = create_app(faulty, KEYS, ping_interval_s=0.01)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://m") as http:
        chat = Conversation(http, faulty, 1, "key-claude")
        response = await chat.send(stream=True)
    assert done == ["restart-qms"]
    assert "tool_use" in response.text
    record = faulty.steps[(1, 1)]
    assert record.fault == "restart-qms"
    assert record.fault_ms is not None
    assert record.outcome == "issued"


async def test_a_fault_the_run_cannot_do_fails_the_step_loudly(client) -> None:
    from agentdock.rehearsal.scenario import parse_scenario

    scenario = parse_scenario(
        {
            "name": "f",
            "turns": [{"agent": "claude", "steps": [{"tool": "qms_create", "fault": "restart-qms"}]}],
        }
    )
    unable = ScriptedModel(scenario, run_id="f2")
    unable.answer(
        "claude",
        {
            "tools": [{"name": "mcp__qms__qms_create"}],
            "messages": [{"role": "user", "content": unable.marker(1)}],
        },
    )
    assert unable.steps[(1, 1)].outcome == "failed"
    assert "restart-qms" in unable.steps[(1, 1)].problems[0]
