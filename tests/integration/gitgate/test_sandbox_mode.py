"""The sandbox decision is explicit: reported by ``git-mcp --check``, refused start when it cannot work."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from agentdock.gitgate.errors import ConfigError
from agentdock.gitgate.executor import build_env
from agentdock.gitgate.runtime import GitRuntime
from agentdock.gitgate.scratch import ScratchRepo
from agentdock.gitgate.server import main


def test_check_reports_the_sandbox_and_the_identity_git_runs_as(
    scratch: ScratchRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--check", "--project-root", str(scratch.root), "--no-sandbox"]) == 0
    out = capsys.readouterr().out
    assert "sandbox off: disabled with --no-sandbox" in out


def test_without_bubblewrap_a_linux_server_refuses_to_start_unless_told_not_to_sandbox(
    scratch: ScratchRepo, caplog: pytest.LogCaptureFixture
) -> None:
    root = scratch.root.resolve()
    env = build_env({**scratch.env, "PATH": "/nonexistent"}, root)
    with pytest.raises(ConfigError, match="--no-sandbox"):
        GitRuntime.start(root, root / ".git", env, mode="bwrap")
    with caplog.at_level(logging.WARNING, logger="agentdock.gitgate"):
        runtime = GitRuntime.start(root, root / ".git", env, mode="off")
    runtime.close()
    assert not runtime.status.sandboxed
    assert any("git sandbox: off" in r.getMessage() for r in caplog.records)


def test_the_gateways_own_directory_is_outside_the_project_and_goes_away(scratch: ScratchRepo) -> None:
    root = scratch.root.resolve()
    runtime = GitRuntime.start(root, root / ".git", build_env(scratch.env, root), mode="off")
    home = runtime.home.path
    identity = runtime.home.identity_file("claude").read_text()
    assert root not in home.parents and not os.listdir(runtime.home.hooks)
    assert 'name = "claude"' in identity and 'email = "claude@agentdock.invalid"' in identity
    with pytest.raises(ValueError):
        runtime.home.identity_file("../qa")
    runtime.close()
    assert not Path(home).exists()


@pytest.mark.anyio
async def test_the_file_transport_is_off_except_for_a_remote_step_with_a_local_remote(
    scratch: ScratchRepo,
) -> None:
    """Even without the sandbox, and even with the caller's own ``-c``: a submodule's local URL is not fetched."""
    import dataclasses

    from agentdock.gitgate.executor import ExecLimits, run_chain
    from agentdock.gitgate.invocation import parse_invocation

    root = scratch.root.resolve()
    runtime = GitRuntime.start(root, root / ".git", build_env(scratch.env, root), mode="off")
    try:
        sneaky = dataclasses.replace(
            parse_invocation(["submodule"]),
            argv=(
                "-c",
                "protocol.file.allow=always",
                "submodule",
                "update",
                "--init",
                "--remote",
                "--",
                "vendor/lib",
            ),
        )
        result = await run_chain([sneaky], runtime, "claude", ExecLimits(timeout_s=60))
        assert "transport 'file' not allowed" in result.steps[0].stderr, result
        fetch = await run_chain([parse_invocation(["fetch", "origin"])], runtime, "claude", ExecLimits())
        assert fetch.ok, fetch  # origin is a local path: its fetch gets the file transport
    finally:
        runtime.close()


def test_a_killed_servers_directory_is_removed_by_the_next_one(tmp_path: Path) -> None:
    from agentdock.gitgate.hardening import GitHome

    dead = tmp_path / "agentdock-git-999999999-abc"  # no such pid
    (dead / "hooks").mkdir(parents=True)
    (dead / "hooks").chmod(0o555)
    alive = tmp_path / f"agentdock-git-{os.getpid()}-keep"
    alive.mkdir()
    other = tmp_path / "agentdock-git-1-pid-one-is-alive"
    other.mkdir()
    home = GitHome((tmp_path,), base=tmp_path)
    try:
        assert not dead.exists() and alive.exists() and other.exists()
    finally:
        home.close()
    assert not home.path.exists()
