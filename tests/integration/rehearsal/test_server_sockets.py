"""The scripted model on real sockets: bound only where asked, answering over HTTP."""

from __future__ import annotations

import socket

import httpx
import pytest

from agentdock.rehearsal.model import ScriptedModel
from agentdock.rehearsal.scenario import parse_scenario
from agentdock.rehearsal.server import create_app, serve_model

pytestmark = pytest.mark.anyio

SCENARIO = parse_scenario({"name": "s", "turns": [{"agent": "claude", "steps": [{"tool": "qms_inbox"}]}]})


async def test_the_model_listens_only_on_the_addresses_it_is_given() -> None:
    app = create_app(ScriptedModel(SCENARIO), {"k": "claude"})
    async with serve_model(app, ["127.0.0.1"]) as server:
        async with httpx.AsyncClient() as http:
            reply = await http.post(
                f"{server.url()}/v1/messages",
                json={"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]},
                headers={"x-api-key": "k"},
            )
        assert reply.status_code == 200
        assert reply.json()["type"] == "message"
        # 127.0.0.2 is loopback too, but not an address the model was given: nothing listens there.
        with socket.socket() as probe:
            probe.settimeout(2)
            assert probe.connect_ex(("127.0.0.2", server.port)) != 0
    with socket.socket() as after:
        after.settimeout(2)
        assert after.connect_ex(("127.0.0.1", server.port)) != 0  # stopped with the block
