"""Probing, starting and stopping the host MCP servers (no sockets: httpx.MockTransport)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from agentdock import paths
from agentdock.launcher.errors import ServerError
from agentdock.launcher.servers import (
    ServerSpec,
    ensure_servers,
    mcp_initialize,
    server_processes,
    stop_servers,
)

INIT_RESULT = {"jsonrpc": "2.0", "id": 1, "result": {"serverInfo": {"name": "qms", "version": "1.0"}}}


def _client(handler) -> httpx.Client:  # type: ignore[no-untyped-def]
    return httpx.Client(transport=httpx.MockTransport(handler))


def test_initialize_probe_sends_the_bearer_token_and_reads_json_or_sse() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "DELETE":
            return httpx.Response(200)
        sse = f"event: message\ndata: {json.dumps(INIT_RESULT)}\n\n"
        return httpx.Response(
            200, text=sse, headers={"content-type": "text/event-stream", "mcp-session-id": "s1"}
        )

    probe = mcp_initialize(_client(handler), "http://127.0.0.1:1/mcp", "adk_t")
    assert probe.ok and probe.detail == "qms 1.0"
    assert seen[0].headers["authorization"] == "Bearer adk_t"
    assert json.loads(seen[0].content)["method"] == "initialize"
    assert [r.method for r in seen] == ["POST", "DELETE"]
    assert seen[1].headers["mcp-session-id"] == "s1"


def test_probe_reports_status_for_refusals_and_none_for_connection_errors() -> None:
    refused = mcp_initialize(_client(lambda r: httpx.Response(401, text="no")), "http://x/mcp", "t")
    assert not refused.ok and refused.status == 401

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    probe = mcp_initialize(_client(down), "http://x/mcp", "t")
    assert not probe.ok and probe.status is None and "ConnectError" in probe.detail


def test_healthy_servers_are_left_alone(tmp_path: Path) -> None:
    spec = ServerSpec("qms", "no-such-server-command", tmp_path, 8000)
    client = _client(lambda r: httpx.Response(200, json=INIT_RESULT))
    events: list[str] = []
    result = ensure_servers([spec], "t", client=client, on_event=events.append)
    assert result["qms"].ok
    assert "already running" in events[0]
    assert not spec.pid_file.exists()


def test_a_server_that_rejects_the_token_is_not_restarted_and_the_error_says_why(tmp_path: Path) -> None:
    spec = ServerSpec("qms", "no-such-server-command", tmp_path, 8000)
    with pytest.raises(ServerError, match="refused the agent's token"):
        ensure_servers([spec], "t", client=_client(lambda r: httpx.Response(401)))


def test_a_server_that_dies_on_start_fails_with_its_log(tmp_path: Path) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    spec = ServerSpec("qms", "false", tmp_path, 8000)  # /usr/bin/false stands in for a crashing server
    with pytest.raises(ServerError, match=r"false exited \(1\) before answering") as info:
        ensure_servers([spec], "t", client=_client(down), timeout_s=30)
    assert "starting: " in str(info.value)
    assert spec.log_file.is_file() and spec.log_file.parent == paths.run_dir(tmp_path)
    assert not spec.pid_file.exists()


def test_stop_ends_only_the_processes_whose_pid_files_name_them(tmp_path: Path) -> None:
    run = paths.run_dir(tmp_path)
    run.mkdir(parents=True)
    server = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "qms-mcp"])
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (run / "qms-mcp.pid").write_text(json.dumps({"pid": server.pid}))
        (run / "git-mcp.pid").write_text(json.dumps({"pid": bystander.pid}))  # a reused pid
        stopped = stop_servers(tmp_path, timeout_s=10)
        assert stopped == [f"qms-mcp (pid {server.pid})"]
        assert server.wait(timeout=10) is not None
        assert bystander.poll() is None
        assert not (run / "qms-mcp.pid").exists() and not (run / "git-mcp.pid").exists()
    finally:
        for proc in (server, bystander):
            proc.kill()
            proc.wait()


def _fake_server(folder: Path, command: str, root: Path) -> subprocess.Popen[bytes]:
    """A process whose argv looks like a real server's: <python> <dir>/<command> ... --project-root ROOT."""
    script = folder / command
    script.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(60)\n")
    script.chmod(0o755)
    return subprocess.Popen([str(script), "--transport", "streamable-http", "--project-root", str(root)])


def test_servers_without_a_pid_file_are_found_and_stopped_only_when_asked(tmp_path: Path) -> None:
    root, other = tmp_path / "proj", tmp_path / "other"
    root.mkdir()
    other.mkdir()
    orphan = _fake_server(tmp_path, "qms-mcp", root)
    elsewhere = _fake_server(tmp_path, "git-mcp", other)  # serves another project
    try:
        assert server_processes(root) == [orphan.pid]
        assert stop_servers(root) == [] and orphan.poll() is None
        assert stop_servers(root, orphans=True, timeout_s=10) == [f"qms-mcp (pid {orphan.pid}, no pid file)"]
        assert orphan.wait(timeout=10) is not None
        assert server_processes(root) == [] and elsewhere.poll() is None
    finally:
        for proc in (orphan, elsewhere):
            proc.kill()
            proc.wait()


def test_a_root_launch_on_a_root_owned_project_keeps_root_and_says_so_in_argv(tmp_path: Path) -> None:
    from agentdock.launcher.servers import server_specs, servers_keep_root

    keep = servers_keep_root(tmp_path)
    assert keep == (os.geteuid() == 0 and tmp_path.stat().st_uid == 0)
    (qms, git) = server_specs(tmp_path, ["127.0.0.1"], 9000, 9001, allow_root=True)
    assert qms.argv()[-1] == "--allow-root" and git.argv()[-1] == "--allow-root"
    (plain,) = server_specs(tmp_path, ["127.0.0.1"], 9000, None)
    assert "--allow-root" not in plain.argv()


def test_stop_signals_every_server_before_waiting_so_a_restart_costs_the_slowest_not_the_sum(
    tmp_path: Path,
) -> None:
    """Each fake server leaves only once the other has been signalled too: one at a time, neither could."""
    run = paths.run_dir(tmp_path)
    run.mkdir(parents=True)
    code = (
        "import pathlib, signal, sys, time\n"
        "me, other = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])\n"
        "def leave(*_):\n"
        "    me.touch()\n"
        "    end = time.monotonic() + 30\n"
        "    while not other.exists() and time.monotonic() < end: time.sleep(0.02)\n"
        "    sys.exit(0 if other.exists() else 3)\n"
        "signal.signal(signal.SIGTERM, leave)\n"
        "time.sleep(60)\n"
    )
    marks = {name: tmp_path / f"{name}.termed" for name in ("qms-mcp", "git-mcp")}
    other = {"qms-mcp": "git-mcp", "git-mcp": "qms-mcp"}
    procs = {
        name: subprocess.Popen([sys.executable, "-c", code, str(marks[name]), str(marks[other[name]]), name])
        for name in marks
    }
    try:
        for name, proc in procs.items():
            (run / f"{name}.pid").write_text(json.dumps({"pid": proc.pid}))
        time.sleep(0.5)  # the handlers are installed
        stopped = stop_servers(tmp_path, timeout_s=20)
        assert sorted(stopped) == sorted(f"{name} (pid {proc.pid})" for name, proc in procs.items())
        assert {name: proc.wait(timeout=10) for name, proc in procs.items()} == {"qms-mcp": 0, "git-mcp": 0}
    finally:
        for proc in procs.values():
            proc.kill()
            proc.wait()
