"""A scripted model on its ASGI app, and requests shaped like the ones Claude Code sends."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from agentdock.rehearsal.model import ScriptedModel
from agentdock.rehearsal.scenario import parse_scenario
from agentdock.rehearsal.server import create_app

KEYS = {"key-claude": "claude", "key-qa": "qa"}
QMS_TOOLS = ["Read", "Edit", "mcp__qms__qms_create", "mcp__qms__qms_checkin", "mcp__qms__qms_approve"]

TWO_STEPS = {
    "name": "two-steps",
    "turns": [
        {
            "agent": "claude",
            "steps": [
                {
                    "tool": "qms_create",
                    "input": {"doc_type": "CR", "title": "T"},
                    "save": "cr",
                    "expect": {"json": {"status": "DRAFT"}},
                },
                {
                    "tool": "qms_checkin",
                    "input": {"doc_id": "{{ cr.doc_id }}"},
                    "expect": {"contains": "Checked in"},
                },
            ],
            "final": "All done with {{ cr.doc_id }}.",
        },
        {
            "agent": "qa",
            "steps": [
                {"tool": "qms_approve", "input": {"doc_id": "{{ cr.doc_id }}"}, "expect": {"error": True}}
            ],
        },
    ],
}


class Conversation:
    """One Claude Code session against the model: keeps the messages, appends tool results."""

    def __init__(self, client: httpx.AsyncClient, model: ScriptedModel, turn: int, key: str) -> None:
        self.client, self.model, self.key = client, model, key
        self.messages: list[dict[str, Any]] = [
            {"role": "user", "content": [{"type": "text", "text": f"Do it. {model.marker(turn)}"}]}
        ]

    async def send(self, tools: list[str] | None = None, *, stream: bool = False) -> httpx.Response:
        body = {
            "model": "claude-opus-5-5",
            "max_tokens": 1000,
            "messages": self.messages,
            "tools": [
                {"name": t, "input_schema": {"type": "object"}}
                for t in (QMS_TOOLS if tools is None else tools)
            ],
            "stream": stream,
        }
        return await self.client.post("/v1/messages?beta=true", json=body, headers={"x-api-key": self.key})

    def answer(self, reply: dict[str, Any], text: str, *, is_error: bool = False) -> None:
        """Append the assistant reply and a tool_result for its tool_use (as Claude Code does)."""
        self.messages.append({"role": "assistant", "content": reply["content"]})
        use = next(b for b in reply["content"] if b["type"] == "tool_use")
        result: dict[str, Any] = {"type": "tool_result", "tool_use_id": use["id"], "content": text}
        if is_error:
            result["is_error"] = True
        self.messages.append({"role": "user", "content": [result]})


def created(doc_id: str = "CR-001") -> str:
    return json.dumps(
        {"doc_id": doc_id, "status": "DRAFT", "workspace_file": f".claude/users/claude/workspace/{doc_id}.md"}
    )


@pytest.fixture
def model() -> ScriptedModel:
    return ScriptedModel(parse_scenario(TWO_STEPS), run_id="abc123", project_dir="/proj")


@pytest.fixture
async def client(model: ScriptedModel) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(model, KEYS, ping_interval_s=0.01)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://model") as http:
        yield http
