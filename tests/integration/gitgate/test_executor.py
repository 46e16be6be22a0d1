"""The executor against real git: timeouts kill the process group, output is capped, chains stop."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import anyio
import pytest

from agentdock.gitgate.executor import ExecLimits, build_env, run_chain
from agentdock.gitgate.facts import RepoFacts
from agentdock.gitgate.invocation import parse_invocation
from agentdock.gitgate.lexer import split_chain
from agentdock.gitgate.policy import judge
from agentdock.gitgate.scratch import ScratchRepo


def _hook(repo: ScratchRepo, name: str, body: str) -> Path:
    path = repo.root / ".git" / "hooks" / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def _pid_gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1].startswith("Z")
    except FileNotFoundError:
        return True


@pytest.mark.anyio
async def test_a_step_past_its_timeout_is_killed_with_its_children(
    scratch: ScratchRepo, facts: RepoFacts
) -> None:
    pidfile = scratch.root.parent / "hook.pid"
    hook = _hook(scratch, "pre-commit", f"echo $$ > {pidfile}\nexec sleep 300\n")
    try:
        env = build_env(scratch.env, scratch.root)
        with anyio.fail_after(30):
            result = await run_chain(
                judge("commit --allow-empty -m slow && log -1", facts),
                scratch.root,
                env,
                ExecLimits(timeout_s=1.5),
            )
        assert [s.timed_out for s in result.steps] == [True]
        assert result.steps[0].exit_code is None and "timeout" in result.steps[0].stderr
        assert result.not_run == ("git log -1",) and not result.ok
        sleeper = int(pidfile.read_text())
        with anyio.fail_after(10):
            while not _pid_gone(sleeper):
                await anyio.sleep(0.05)
    finally:
        hook.unlink()


@pytest.mark.anyio
async def test_git_sees_only_the_allow_listed_environment(scratch: ScratchRepo, facts: RepoFacts) -> None:
    dump = scratch.root.parent / "hook.env"
    hook = _hook(scratch, "pre-commit", f"env > {dump}\n")
    try:
        source = {**scratch.env, "AWS_SECRET_ACCESS_KEY": "s3cret", "GIT_DIR": "/tmp/elsewhere"}
        env = build_env(source, scratch.root)
        result = await run_chain(
            judge("commit --allow-empty -m envcheck", facts), scratch.root, env, ExecLimits()
        )
        assert result.ok, result
        seen = dict(line.split("=", 1) for line in dump.read_text().splitlines() if "=" in line)
        assert seen["GIT_TERMINAL_PROMPT"] == "0"
        assert seen["GIT_SEQUENCE_EDITOR"] == "true" and seen["PAGER"] == "cat"
        assert "AWS_SECRET_ACCESS_KEY" not in seen
        assert seen["GIT_DIR"] == str(scratch.root.resolve() / ".git")  # pinned; the caller's was dropped
        assert seen["HOME"] == scratch.env["HOME"]
    finally:
        hook.unlink()


@pytest.mark.anyio
async def test_output_beyond_the_cap_is_cut_and_flagged(scratch: ScratchRepo, facts: RepoFacts) -> None:
    env = build_env(scratch.env, scratch.root)
    limits = ExecLimits(max_output_bytes=200)
    result = await run_chain(judge("log --format=%H%n%H%n%H%n%H", facts), scratch.root, env, limits)
    step = result.steps[0]
    assert step.ok and step.truncated
    assert len(step.stdout.encode()) == 200


@pytest.mark.anyio
async def test_a_chain_stops_at_the_first_failure_and_reports_each_step(
    scratch: ScratchRepo, facts: RepoFacts
) -> None:
    env = build_env(scratch.env, scratch.root)
    invs = judge("rev-parse HEAD && switch no-such-branch && status", facts)
    result = await run_chain(invs, scratch.root, env, ExecLimits())
    assert result.steps[0].exit_code == 0
    assert len(result.steps) == 2 and result.steps[1].exit_code not in (0, None)
    assert "no-such-branch" in result.steps[1].stderr
    assert result.not_run == ("git status",)
    assert len(result.steps[0].stdout.strip()) == 40


def test_build_env_is_an_allow_list_with_fixed_git_settings(tmp_path: Path) -> None:
    env = build_env(
        {"PATH": "/bin", "HOME": "/h", "GIT_DIR": "/x", "SECRET": "s", "LD_PRELOAD": "x"}, tmp_path
    )
    assert env["PATH"] == "/bin" and env["HOME"] == "/h"
    assert env["GIT_DIR"] == os.fspath(tmp_path.resolve() / ".git") and env["GIT_WORK_TREE"] == os.fspath(
        tmp_path.resolve()
    )
    assert "SECRET" not in env and "LD_PRELOAD" not in env
    assert env["GIT_TERMINAL_PROMPT"] == "0"
    assert env["GIT_CEILING_DIRECTORIES"] == os.fspath(tmp_path.resolve().parent)


@pytest.mark.anyio
async def test_a_repository_nested_in_a_writable_folder_is_never_used(
    scratch: ScratchRepo, facts: RepoFacts
) -> None:
    """An agent can write its workspace: a repo there with its own fsmonitor must not run on the host."""
    nested = scratch.root / ".claude" / "users" / "claude" / "workspace" / "trap"
    marker = scratch.root.parent / "pwned"
    nested.mkdir(parents=True)
    scratch.git("init", "-q", cwd=nested)
    with (nested / ".git" / "config").open("a") as fh:
        fh.write(f"[core]\n\tfsmonitor = touch {marker}\n[alias]\n\tstatus = !touch {marker}\n")
    env = build_env(scratch.env, scratch.root)
    # the policy refuses -C now; the executor must still pin the repository if it ever ran one
    result = await run_chain(
        [
            parse_invocation(words)
            for words in split_chain(
                "-C .claude/users/claude/workspace/trap status --short && -C .claude/users/claude/workspace/trap "
                "rev-parse --show-toplevel"
            )
        ],
        scratch.root,
        env,
        ExecLimits(),
    )
    assert result.ok, result
    assert not marker.exists()
    assert result.steps[1].stdout.strip() == str(scratch.root.resolve())


@pytest.mark.anyio
async def test_chains_from_concurrent_callers_never_interleave(scratch: ScratchRepo, tmp_path: Path) -> None:
    from agentdock.gitgate.gateway import GateConfig, GitGateway

    hook = _hook(scratch, "pre-commit", "sleep 0.2\n")
    try:
        gateway = GitGateway(GateConfig(root=scratch.root, env=build_env(scratch.env, scratch.root)))
        outcomes = []

        async def run(agent: str) -> None:
            outcomes.append(
                await gateway.execute(
                    f"commit --allow-empty -m {agent}-1 && commit --allow-empty -m {agent}-2", agent
                )
            )

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                tg.start_soon(run, "claude")
                tg.start_soon(run, "qa")
        assert all(o.ok for o in outcomes), outcomes
        subjects = scratch.git("log", "-4", "--format=%s").split()
        assert subjects in (
            ["qa-2", "qa-1", "claude-2", "claude-1"],
            ["claude-2", "claude-1", "qa-2", "qa-1"],
        )
    finally:
        hook.unlink()
