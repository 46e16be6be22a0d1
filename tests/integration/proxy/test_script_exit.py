"""The proxy script leaves as soon as the proxy is done, and loses nothing written before it left."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentdock.proxy.testserver import ServerHandle, running_server

pytestmark = pytest.mark.timeout(120)

SCRIPT = Path(__file__).resolve().parents[3] / "proxy" / "mcp_proxy.py"


@pytest.fixture(scope="module")
def server() -> Iterator[ServerHandle]:
    with running_server() as handle:
        yield handle


def _line(message: dict[str, object]) -> str:
    return json.dumps(message) + "\n"


def test_every_answer_and_log_line_is_written_before_the_script_exits(
    server: ServerHandle, tmp_path: Path
) -> None:
    log = tmp_path / "proxy.log"
    init = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
    requests = [
        _line({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init}),
        _line({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        *(_line({"jsonrpc": "2.0", "id": 2 + i, "method": "tools/call",
                 "params": {"name": "echo", "arguments": {"text": f"m{i}"}}}) for i in range(20)),
    ]  # fmt: skip
    done = subprocess.run(
        [sys.executable, str(SCRIPT), server.url, "--log-file", str(log)],
        input="".join(requests),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert sorted(a["id"] for a in answers) == list(range(1, 22))
    assert "stdin closed" in log.read_text()


def test_check_prints_its_verdict_before_the_script_exits(server: ServerHandle) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), server.url, "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and done.stdout.startswith(f"OK {server.url}"), (done.stdout, done.stderr)
