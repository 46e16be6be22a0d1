"""Server-to-client round trips, restarts, resumption, auth and process lifecycle, with real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from typing import Any

import anyio
import mcp.types as types
import pytest
from mcp.shared.exceptions import MCPError

from agentdock.proxy.errors import AUTH_REJECTED_CODE
from agentdock.proxy.testserver import running_server

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PROXY = os.path.join(REPO, "proxy", "mcp_proxy.py")


def text_of(result: types.CallToolResult) -> str:
    (content,) = result.content
    assert isinstance(content, types.TextContent)
    return content.text


async def test_sampling_and_elicitation_round_trips_reach_the_client(
    fresh_server: Any, proxy_client: Any
) -> None:
    prompts: list[str] = []

    async def sampling(context: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        content = params.messages[0].content
        prompts.append(content.text if isinstance(content, types.TextContent) else "?")
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text="forty-two"), model="test-model"
        )

    async def elicitation(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        return types.ElicitResult(action="accept", content={"name": "Ada"})

    with anyio.fail_after(60):
        async with proxy_client.connect(
            fresh_server.url, mode="legacy", sampling_callback=sampling, elicitation_callback=elicitation
        ) as client:
            assert text_of(await client.call_tool("sample", {"prompt": "meaning of life?"})) == "forty-two"
            assert text_of(await client.call_tool("ask", {"question": "your name?"})) == "hello Ada"
    assert prompts == ["meaning of life?"]


@pytest.mark.parametrize("mode", ["legacy", "auto"])
@pytest.mark.parametrize("stateless", [False, True], ids=["stateful", "stateless"])
async def test_a_server_killed_and_restarted_mid_session_is_invisible_to_the_client(
    proxy_client: Any, proxy_log: Any, mode: str, stateless: bool
) -> None:
    with running_server(stateless=stateless) as server, anyio.fail_after(90):
        async with proxy_client.connect(server.url, "--retries", "10", mode=mode) as client:
            assert text_of(await client.call_tool("count", {})) == "1"
            server.kill()  # all server state is gone: sessions, the counter
            server.start()  # same port
            assert text_of(await client.call_tool("echo", {"text": "after restart"})) == "after restart"
            assert text_of(await client.call_tool("count", {})) == "1"  # a new server process answered
            server.kill()

            async def restart_soon() -> None:
                await anyio.to_thread.run_sync(server.start)

            async with anyio.create_task_group() as tg:
                tg.start_soon(restart_soon)  # the call below starts while nothing listens
                assert text_of(await client.call_tool("echo", {"text": "while down"})) == "while down"
    if not stateless and mode == "legacy":
        assert "re-initialised" in proxy_log.text()


@pytest.mark.parametrize("stateless", [False, True], ids=["stateful", "stateless"])
async def test_a_server_killed_during_a_call_and_restarted_seconds_later_is_ridden_out_with_three_retries(
    proxy_client: Any, proxy_log: Any, stateless: bool
) -> None:
    # SSE responses, so progress shows the call is in flight. The launcher's budget (--retries 3) is used up by ~1 s of backoff; the outage here is the 2 s the
    # server stays down plus its start-up. The call in flight is cut (one counted retry); the proxy then
    # waits, pinging, within --retry-window until the new process answers, and sends the call once more.
    started = anyio.Event()

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        started.set()

    with running_server(stateless=stateless) as server, anyio.fail_after(90):
        async with proxy_client.connect(server.url, "--retries", "3", mode="legacy") as client:

            async def crash_and_restart() -> None:
                await started.wait()
                server.kill()
                await anyio.sleep(2.0)  # the fault: nothing listens for 2 s
                await anyio.to_thread.run_sync(server.start)

            async with anyio.create_task_group() as tg:
                tg.start_soon(crash_and_restart)
                result = await client.call_tool(
                    "slow", {"steps": 200, "delay_ms": 20}, progress_callback=on_progress
                )
            assert text_of(result) == "done after 200 steps"
            assert text_of(await client.call_tool("echo", {"text": "still here"})) == "still here"
    log = proxy_log.text()
    assert "server not answering yet" in log, "the proxy waited for the server by probing"
    assert "still unavailable" not in log and "tools/call id=2 -> ok" in log


async def test_a_broken_sse_stream_is_resumed_with_last_event_id(proxy_client: Any, proxy_log: Any) -> None:
    with running_server(resumable=True) as server, anyio.fail_after(60):
        async with proxy_client.connect(server.url, mode="legacy") as client:
            assert text_of(await client.call_tool("hang_up", {})) == "answered after resumption"
    assert "resuming after event" in proxy_log.text()


async def test_the_bearer_token_header_is_sent_and_a_missing_one_is_reported_as_auth(
    proxy_client: Any,
) -> None:
    with running_server(token="s3cret") as server, anyio.fail_after(60):
        async with proxy_client.connect(
            server.url, "--header", "Authorization=Bearer s3cret", mode="legacy"
        ) as client:
            assert text_of(await client.call_tool("echo", {"text": "authorised"})) == "authorised"
        with pytest.raises(BaseException) as info:
            async with proxy_client.connect(server.url, mode="legacy"):
                pass
    error = info.value
    while isinstance(error, BaseExceptionGroup):  # the SDK client's task group wraps it
        error = error.exceptions[0]
    assert isinstance(error, MCPError)
    assert error.code == AUTH_REJECTED_CODE and "credentials" in str(error)


async def test_loopback_traffic_bypasses_a_configured_http_proxy(
    fresh_server: Any, proxy_client: Any
) -> None:
    dead_proxy = {"HTTP_PROXY": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9", "ALL_PROXY": ""}
    with anyio.fail_after(60):
        async with proxy_client.connect(fresh_server.url, env=dead_proxy, mode="legacy") as client:
            assert text_of(await client.call_tool("echo", {"text": "direct"})) == "direct"


def run_proxy(*args: str, stdin: str = "", timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}}
    return subprocess.run(
        [sys.executable, PROXY, *args],
        check=False,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def test_check_prints_the_server_identity_and_exits_0(fresh_server: Any) -> None:
    done = run_proxy(fresh_server.url, "--check")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"OK {fresh_server.url}: agentdock-testserver")
    assert "protocol 2025-11-25" in done.stdout


def test_check_against_nothing_listening_exits_1_naming_the_cause() -> None:
    done = run_proxy("http://127.0.0.1:9/mcp", "--check", "--timeout", "2000")
    assert done.returncode == 1 and "cannot connect" in done.stdout


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["http://x/mcp", "--header", "Broken"], "expected K=V"),
        (["file:///etc/passwd"], "http://"),
        (["http://x/mcp", "--retries", "-2"], "--retries -2"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(args: list[str], complaint: str) -> None:
    done = run_proxy(*args)
    assert done.returncode == 2 and complaint in done.stderr and done.stdout == ""


def test_stdout_carries_only_json_rpc_lines_and_eof_deletes_the_session(fresh_server: Any) -> None:
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }
    lines = [
        json.dumps(init),
        json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        "this is not json",
        json.dumps(
            {
                "jsonrpc": "2.0",
                "id": 2,
                "method": "tools/call",
                "params": {"name": "echo", "arguments": {"text": "x"}},
            }
        ),
    ]
    done = run_proxy(fresh_server.url, stdin="\n".join(lines) + "\n")
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert sorted(m["id"] for m in out if m.get("id") is not None) == [1, 2]
    assert [m["error"]["code"] for m in out if m.get("id") is None] == [-32700]
    assert "DELETE session -> HTTP 200" in done.stderr


def test_sigterm_ends_the_proxy_cleanly(fresh_server: Any) -> None:
    env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}}
    proc = subprocess.Popen(
        [sys.executable, PROXY, fresh_server.url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"}) + "\n")
    proc.stdin.flush()
    assert json.loads(proc.stdout.readline())["id"] == 1  # running and answering
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    proc.stdin.close()
    proc.stdout.close()
    assert proc.stderr is not None
    assert "shutting down" in proc.stderr.read()
    proc.stderr.close()


def _python_without_httpx() -> str | None:
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if os.path.exists(candidate):
            probe = subprocess.run([candidate, "-c", "import httpx"], capture_output=True, check=False)
            if probe.returncode != 0:
                return candidate
    return None


def test_the_launcher_reexecs_with_the_agentdock_venv_when_the_interpreter_lacks_it(
    fresh_server: Any,
) -> None:
    bare = _python_without_httpx()
    if bare is None:
        pytest.skip("no system python3 without httpx to play the image's /usr/bin/python3")
    env = {"PATH": os.environ.get("PATH", ""), "AGENTDOCK_PYTHON": sys.executable}
    done = subprocess.run(
        [bare, PROXY, fresh_server.url, "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("OK ")
    missing = subprocess.run(
        [bare, PROXY, fresh_server.url],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ.get("PATH", ""), "AGENTDOCK_PYTHON": "/nonexistent/python"},
        check=False,
    )
    assert missing.returncode == 70 and "cannot import agentdock.proxy" in missing.stderr


def test_logs_go_to_the_log_file_when_asked(fresh_server: Any, tmp_path: Any) -> None:
    log_file = tmp_path / "proxy.log"
    ping = json.dumps({"jsonrpc": "2.0", "id": 7, "method": "ping"}) + "\n"
    done = run_proxy(fresh_server.url, "--log-file", str(log_file), stdin=ping)
    assert done.returncode == 0 and json.loads(done.stdout)["id"] == 7
    assert done.stderr == ""
    assert "ping id=7 -> " in log_file.read_text()


def test_a_client_that_closes_its_end_of_stdout_ends_the_proxy_with_status_0(fresh_server: Any) -> None:
    env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}}
    proc = subprocess.Popen(
        [sys.executable, PROXY, fresh_server.url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the client goes away without closing stdin
    proc.stdin.write(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"}) + "\n")
    proc.stdin.flush()
    assert proc.wait(timeout=30) == 0
    assert "stdout closed" in proc.stderr.read()
    proc.stdin.close()
    proc.stderr.close()
