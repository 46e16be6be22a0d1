"""The connection-trial driver against a real MCP server: one proxy process per trial, and the direct path.

Runs the driver's trial function on the host (inside the image it runs the same code over a pipe), with the
proxy launcher script and a real ``mcp`` test server on 127.0.0.1 as subprocesses.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentdock.proxy.testserver import ServerHandle, running_server
from agentdock.soak.trialdriver import run_trial

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

PROXY_SCRIPT = Path(__file__).resolve().parents[3] / "proxy" / "mcp_proxy.py"
ECHO = {"tool": "echo", "arguments": {"text": "hi"}, "timeout_s": 30}


@pytest.fixture(scope="module")
def server() -> Iterator[ServerHandle]:
    with running_server() as handle:
        yield handle


async def test_a_proxy_trial_spawns_a_fresh_proxy_and_times_each_step(server: ServerHandle) -> None:
    answer = await run_trial(
        {"id": 1, "path": "proxy", "argv": [sys.executable, str(PROXY_SCRIPT), server.url], **ECHO}
    )
    assert answer["ok"] is True, answer
    assert answer["failed_step"] is None and answer["error"] is None
    assert set(answer["steps_ms"]) == {"initialize", "tools_list", "tool_call"}
    assert answer["first_response_ms"] == answer["steps_ms"]["initialize"] > 0


async def test_a_direct_trial_speaks_streamable_http_itself(server: ServerHandle) -> None:
    answer = await run_trial({"id": 2, "path": "direct", "url": server.url, "token": "unused", **ECHO})
    assert answer["ok"] is True, answer
    assert set(answer["steps_ms"]) == {"initialize", "tools_list", "tool_call"}


async def test_a_missing_tool_fails_the_trial_at_tools_list_with_the_reason(server: ServerHandle) -> None:
    answer = await run_trial({"id": 3, "path": "direct", "url": server.url, "token": "t", "tool": "nope"})
    assert (answer["ok"], answer["failed_step"]) == (False, "tools_list")
    assert "nope not among the tools" in answer["error"]


async def test_an_unreachable_server_fails_the_proxy_trial_at_initialize_with_its_stderr() -> None:
    argv = [sys.executable, str(PROXY_SCRIPT), "http://127.0.0.1:9/mcp", "--retries", "0"]
    answer = await run_trial({"id": 4, "path": "proxy", "argv": argv, **ECHO})
    assert (answer["ok"], answer["failed_step"]) == (False, "initialize")
    assert "proxying stdio" in answer["stderr"]


def test_the_driver_answers_one_json_line_per_request_until_stdin_closes(server: ServerHandle) -> None:
    requests = [
        {"id": 1, "path": "direct", "url": server.url, "token": "t", **ECHO},
        {"id": 2, "path": "direct", "url": server.url, "token": "t", "tool": "nope", "timeout_s": 30},
    ]
    done = subprocess.run(
        [sys.executable, "-m", "agentdock.soak.trialdriver"],
        input="".join(json.dumps(r) + "\n" for r in requests) + "not json\n",
        capture_output=True,
        text=True,
        timeout=90,
        check=True,
    )
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(a["id"], a["ok"]) for a in answers] == [(1, True), (2, False), (None, False)]
    assert answers[2]["failed_step"] == "driver"
