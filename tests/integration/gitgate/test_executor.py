"""The executor against real git: timeouts kill the process group, output is capped, chains stop.

Hooks never run (``core.hooksPath`` is the gateway's empty directory), so slow or inspecting
steps use ``fetch --upload-pack=<program>`` issued to the executor directly, bypassing the policy.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from agentdock.gitgate.executor import ExecLimits, build_env, run_chain
from agentdock.gitgate.facts import RepoFacts
from agentdock.gitgate.hardening import subcommand_index
from agentdock.gitgate.invocation import Invocation, parse_invocation
from agentdock.gitgate.lexer import split_chain
from agentdock.gitgate.policy import judge
from agentdock.gitgate.runtime import GitRuntime
from agentdock.gitgate.scratch import ScratchRepo


@pytest.fixture
def runtime(scratch: ScratchRepo) -> Iterator[GitRuntime]:
    rt = GitRuntime.start(
        scratch.root.resolve(), scratch.root.resolve() / ".git", build_env(scratch.env, scratch.root)
    )
    try:
        yield rt
    finally:
        rt.close()


EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


def _unjudged(*words: str) -> Invocation:
    """An invocation the policy never saw (the executor must not care)."""
    return dataclasses.replace(parse_invocation([words[subcommand_index(words)]]), argv=tuple(words))


def _pid_gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1].startswith("Z")
    except FileNotFoundError:
        return True


def _alive_with(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    if marker.encode() in fh.read() and not _pid_gone(int(entry)):
                        found.append(int(entry))
            except OSError:
                continue
    return found


@pytest.mark.anyio
async def test_a_step_past_its_timeout_is_killed_with_its_children(
    scratch: ScratchRepo, runtime: GitRuntime
) -> None:
    marker = "297.25"  # a sleep only this test starts
    slow = _unjudged("fetch", f"--upload-pack=sleep {marker}; :", "origin")
    with anyio.fail_after(30):
        result = await run_chain([slow, _unjudged("log", "-1")], runtime, "claude", ExecLimits(timeout_s=1.5))
    assert [s.timed_out for s in result.steps] == [True]
    assert result.steps[0].exit_code is None and "timeout" in result.steps[0].stderr
    assert result.not_run == ("git log -1",) and not result.ok
    with anyio.fail_after(10):
        while _alive_with(marker):
            await anyio.sleep(0.05)


@pytest.mark.anyio
async def test_a_read_only_step_gets_the_short_timeout(scratch: ScratchRepo, runtime: GitRuntime) -> None:
    limits = ExecLimits(timeout_s=600, read_timeout_s=0.5)
    assert limits.timeout_for(runtime.launch(_unjudged("status"), "claude").kind) == 0.5
    assert limits.timeout_for(runtime.launch(_unjudged("commit", "-m", "x"), "claude").kind) == 600
    assert limits.timeout_for(runtime.launch(_unjudged("fetch", "origin"), "claude").kind) == 600


@pytest.mark.anyio
async def test_git_sees_only_the_allow_listed_environment(
    scratch: ScratchRepo, scratch_env_runtime: GitRuntime
) -> None:
    dump = scratch.root / ".claude" / "users" / "claude" / "workspace" / "env.txt"
    spy = _unjudged("-c", f"diff.external=env > {dump}; :", "diff", "--ext-diff", EMPTY_TREE, "HEAD")
    try:
        result = await run_chain([spy], scratch_env_runtime, "claude", ExecLimits())
        assert result.ok, result
        seen = dict(line.split("=", 1) for line in dump.read_text().splitlines() if "=" in line)
        assert seen["GIT_TERMINAL_PROMPT"] == "0"
        assert seen["GIT_SEQUENCE_EDITOR"] == "true" and seen["PAGER"] == "cat"
        assert "AWS_SECRET_ACCESS_KEY" not in seen
        assert seen["GIT_DIR"] == str(scratch.root.resolve() / ".git")  # pinned; the caller's was dropped
        assert seen["HOME"] == scratch.env["HOME"]
        assert seen["GIT_CONFIG_NOSYSTEM"] == "1"
        assert seen["GIT_CONFIG_GLOBAL"].endswith("/claude.gitconfig")
        assert "core.hooksPath" in seen.get("GIT_CONFIG_PARAMETERS", "")
    finally:
        dump.unlink(missing_ok=True)


@pytest.fixture
def scratch_env_runtime(scratch: ScratchRepo) -> Iterator[GitRuntime]:
    source = {**scratch.env, "AWS_SECRET_ACCESS_KEY": "s3cret", "GIT_DIR": "/tmp/elsewhere"}
    rt = GitRuntime.start(
        scratch.root.resolve(), scratch.root.resolve() / ".git", build_env(source, scratch.root)
    )
    try:
        yield rt
    finally:
        rt.close()


@pytest.mark.anyio
async def test_output_beyond_the_cap_is_cut_and_flagged(
    scratch: ScratchRepo, facts: RepoFacts, runtime: GitRuntime
) -> None:
    limits = ExecLimits(max_output_bytes=200)
    result = await run_chain(judge("log --format=%H%n%H%n%H%n%H", facts), runtime, "claude", limits)
    step = result.steps[0]
    assert step.ok and step.truncated
    assert len(step.stdout.encode()) == 200


@pytest.mark.anyio
async def test_a_chain_stops_at_the_first_failure_and_reports_each_step(
    scratch: ScratchRepo, facts: RepoFacts, runtime: GitRuntime
) -> None:
    invs = judge("rev-parse HEAD && switch no-such-branch && status", facts)
    result = await run_chain(invs, runtime, "claude", ExecLimits())
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
    scratch: ScratchRepo, facts: RepoFacts, runtime: GitRuntime
) -> None:
    """An agent can write its workspace: a repo there with its own fsmonitor must not run on the host."""
    nested = scratch.root / ".claude" / "users" / "claude" / "workspace" / "trap"
    marker = scratch.root.parent / "pwned"
    nested.mkdir(parents=True)
    scratch.git("init", "-q", cwd=nested)
    with (nested / ".git" / "config").open("a") as fh:
        fh.write(f"[core]\n\tfsmonitor = touch {marker}\n[alias]\n\tstatus = !touch {marker}\n")
    # the policy refuses -C now; the executor must still pin the repository if it ever ran one
    result = await run_chain(
        [
            parse_invocation(words)
            for words in split_chain(
                "-C .claude/users/claude/workspace/trap status --short && -C .claude/users/claude/workspace/trap "
                "rev-parse --show-toplevel"
            )
        ],
        runtime,
        "claude",
        ExecLimits(),
    )
    assert result.ok, result
    assert not marker.exists()
    assert result.steps[1].stdout.strip() == str(scratch.root.resolve())


@pytest.mark.anyio
async def test_chains_from_concurrent_callers_never_interleave(scratch: ScratchRepo, tmp_path: Path) -> None:
    from agentdock.gitgate.gateway import GateConfig, GitGateway

    gateway = GitGateway(GateConfig(root=scratch.root, env=build_env(scratch.env, scratch.root)))
    try:
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
        gateway.close()
