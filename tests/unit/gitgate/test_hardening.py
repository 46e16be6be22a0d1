"""Hardening and mount planning as data: where the forced settings go, what a sandbox binds."""

from __future__ import annotations

from pathlib import Path

from agentdock.gitgate.hardening import HARDENED, config_env, hardened_argv, subcommand_index
from agentdock.gitgate.sandbox import bwrap_argv, plan_mounts
from agentdock.gitgate.upstream import requested_upstreams


def test_forced_settings_come_after_the_callers_own_global_options() -> None:
    argv = ["-c", "core.fsmonitor=touch x", "-C", "src", "--no-pager", "log", "-1"]
    out = hardened_argv(argv, "/hooks")
    at = out.index("log")
    assert out[:4] == ["-c", "core.fsmonitor=touch x", "-C", "src"]
    forced = out[4:at]
    assert forced[forced.index("core.fsmonitor=false") - 1] == "-c"
    assert "core.hooksPath=/hooks" in forced and "protocol.ext.allow=never" in forced
    assert out[at:] == ["log", "-1"]
    assert subcommand_index(["--git-dir=x", "-c", "a=b", "status"]) == 3


def test_the_environment_carries_the_same_pairs_and_no_host_config() -> None:
    env = config_env("/hooks", "/id/claude.gitconfig")
    assert env["GIT_CONFIG_NOSYSTEM"] == "1" and env["GIT_CONFIG_GLOBAL"] == "/id/claude.gitconfig"
    pairs = {
        env[f"GIT_CONFIG_KEY_{i}"]: env[f"GIT_CONFIG_VALUE_{i}"] for i in range(int(env["GIT_CONFIG_COUNT"]))
    }
    assert pairs["core.hooksPath"] == "/hooks"
    assert pairs["commit.gpgSign"] == "false" and pairs["protocol.allow"] == "never"
    assert len(pairs) == len(HARDENED) + 1  # + core.hooksPath


def test_zones_without_tracked_files_are_masked_and_tracked_ones_are_read_only(tmp_path: Path) -> None:
    root = tmp_path
    for folder in (
        ".git/hooks",
        ".agentdock",
        ".claude/agents",
        ".claude/users/qa/inbox",
        ".claude/users/qa/container",
        ".claude/users/claude/workspace",
        ".claude/users/claude/container",
        ".claude/users/bu/notes",
        "QMS",
    ):
        (root / folder).mkdir(parents=True)
    (root / ".git/config").write_text("")
    plan = plan_mounts(root, root / ".git", "claude", [".claude/users/qa/inbox/task.md"])
    assert set(plan.masked) == {
        root / ".agentdock",
        root / ".claude/users/bu",
        root / ".claude/users/claude/container",
        root / ".claude/users/qa/container",
    }
    assert {
        root / ".git/config",
        root / ".git/hooks",
        root / "QMS",
        root / ".claude",
        root / ".claude/users/qa",
    } <= set(plan.read_only)
    assert plan.read_write_again == (root / ".claude/users/claude/workspace",)
    argv = bwrap_argv("bwrap", plan, uid=1000, gid=1000)
    assert "--share-net" not in argv and argv[-1] == "--"
    assert argv.index(str(root / ".claude/users/claude/workspace")) > argv.index(str(root / ".claude"))


def test_an_upstream_is_recorded_only_for_a_configured_remote_after_a_failed_write() -> None:
    out = (
        "branch 'topic' set up to track 'up/stream/topic' by rebasing.\nbranch 'x' set up to track 'main'.\n"
    )
    err = "error: could not write config file .git/config: Device or resource busy\n"
    [request] = requested_upstreams("push", out, err, ["origin", "up/stream"])
    assert (request.branch, request.remote, request.merge, request.rebase) == (
        "topic",
        "up/stream",
        "refs/heads/topic",
        True,
    )
    assert requested_upstreams("log", out, err, ["up/stream"]) == []
    assert requested_upstreams("push", out, "", ["up/stream"]) == []
