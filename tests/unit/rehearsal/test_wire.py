"""The wire format is the real one: the official anthropic SDK reads the model's replies.

The SDK client talks to the ASGI app through httpx (no socket): its stream
parser accumulates our SSE events into a ``Message``, and every event is also
validated against the SDK's own event union.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx
import pytest
from anthropic.types import RawMessageStreamEvent
from pydantic import TypeAdapter

from agentdock.rehearsal.model import ScriptedModel
from agentdock.rehearsal.scenario import parse_scenario
from agentdock.rehearsal.server import create_app
from agentdock.rehearsal.wire import Reply, ToolCall, message, stream_events

pytestmark = pytest.mark.anyio

EVENTS: TypeAdapter[Any] = TypeAdapter(RawMessageStreamEvent)
TOOLS: list[Any] = [{"name": "mcp__qms__qms_create", "input_schema": {"type": "object"}}]
LONG_TITLE = "A title long enough to be split over several input_json_delta events"
SCENARIO = {
    "name": "wire",
    "turns": [
        {
            "agent": "claude",
            "steps": [
                {"tool": "qms_create", "input": {"doc_type": "CR", "title": LONG_TITLE}, "wait_s": 0.05},
            ],
        }
    ],
}


def sdk(model: ScriptedModel) -> anthropic.AsyncAnthropic:
    """The official client, its HTTP client (httpx, or httpx2 in newer SDKs) wired to the ASGI app."""
    try:
        import httpx2 as sdk_httpx  # type: ignore[import-not-found, unused-ignore]
    except ImportError:  # SDKs before the httpx2 switch
        sdk_httpx = httpx
    app = create_app(model, {"key": "claude"}, ping_interval_s=0.01)
    http = sdk_httpx.AsyncClient(transport=sdk_httpx.ASGITransport(app=app))
    return anthropic.AsyncAnthropic(api_key="key", base_url="http://model", http_client=http, max_retries=0)


def parse_sse(raw: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for chunk in raw.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in chunk.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


async def test_the_sdk_stream_reader_accumulates_a_tool_use_with_the_scripted_input() -> None:
    model = ScriptedModel(parse_scenario(SCENARIO), run_id="w1")
    client = sdk(model)
    async with client.messages.stream(
        model="claude-opus-5-5",
        max_tokens=100,
        messages=[{"role": "user", "content": f"go {model.marker(1)}"}],
        tools=TOOLS,
    ) as stream:
        final = await stream.get_final_message()
    assert final.stop_reason == "tool_use"
    [block] = final.content
    assert block.type == "tool_use"
    assert block.name == "mcp__qms__qms_create"
    assert block.input == {"doc_type": "CR", "title": LONG_TITLE}
    assert final.model == "claude-opus-5-5"
    await client.close()


async def test_every_streamed_event_is_a_valid_sdk_event_in_the_apis_order() -> None:
    model = ScriptedModel(parse_scenario(SCENARIO), run_id="w2")
    app = create_app(model, {"key": "claude"}, ping_interval_s=0.01)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://model") as http:
        body = {
            "model": "m",
            "max_tokens": 10,
            "stream": True,
            "tools": TOOLS,
            "messages": [{"role": "user", "content": model.marker(1)}],
        }
        response = await http.post("/v1/messages", json=body, headers={"x-api-key": "key"})
    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(response.text)
    names = [name for name, _ in events]
    assert names[0] == "message_start"
    assert names.count("ping") >= 2  # the held reply (wait_s) kept the stream alive
    real = [(n, d) for n, d in events if n != "ping"]
    assert [n for n, _ in real][-2:] == ["message_delta", "message_stop"]
    assert [n for n, _ in real][1] == "content_block_start"
    assert sum(n == "content_block_delta" for n, _ in real) >= 2
    for name, data in real:
        parsed = EVENTS.validate_python(data)
        assert parsed.type == name == data["type"]
    deltas = "".join(d["delta"]["partial_json"] for n, d in real if n == "content_block_delta")
    assert json.loads(deltas) == {"doc_type": "CR", "title": LONG_TITLE}
    assert real[-2][1]["delta"]["stop_reason"] == "tool_use"


async def test_the_non_streaming_form_is_an_sdk_message() -> None:
    model = ScriptedModel(parse_scenario(SCENARIO), run_id="w3")
    client = sdk(model)
    reply = await client.messages.create(
        model="m", max_tokens=10, messages=[{"role": "user", "content": "title please"}]
    )
    assert reply.stop_reason == "end_turn"
    assert reply.content[0].type == "text"
    assert model.requests[-1].kind == "side"
    await client.close()


def test_a_text_and_tool_reply_streams_two_blocks_with_matching_indexes() -> None:
    reply = Reply(
        id="msg_1",
        model="m",
        text="Let me check.",
        tool_calls=(ToolCall("toolu_1", "Read", {"file_path": "/x"}),),
    )
    events = [e.model_dump(mode="json", exclude_unset=True) for e in stream_events(reply)]
    starts = [e for e in events if e["type"] == "content_block_start"]
    assert [(e["index"], e["content_block"]["type"]) for e in starts] == [(0, "text"), (1, "tool_use")]
    assert message(reply).stop_reason == "tool_use"
