"""Symbolic links in every path-taking position, judged at the moment of use — and a race.

An agent writes its own workspace (and ``.claude/sessions/<agent>``) from its container, so it can plant a
link there at any time.  Every position git reads a path from — pathspecs of readers and writers,
the source and the destination of ``mv``, the literal part of a pattern, a file named by ``-F`` —
is walked with ``lstat`` right before the step runs; a link anywhere below the root refuses it.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from agentdock.gitgate.gateway import render

from .conftest import TOKEN_HOST, TOKEN_QA, World, leaked, snapshot

#: link name (in the caller's workspace) -> where it points
LINKS = {
    "g": "../../../../.git",
    "q": "../../../../QMS",
    "a": "../../../agents",
    "other": "../../qa/workspace",
    "tok": "../../qa/container/.agentdock-token",
    "host": "../../../../../outside/host-secret.txt",
    "up": "../../../../..",
}

WS = ".claude/users/claude/workspace"

ATTACKS = [
    f"mv {WS}/hook {WS}/g/hooks/pre-commit",
    f"mv {WS}/q/SOP-001.md {WS}/stolen.md",
    f"mv README.md {WS}/g/config",
    f"add {WS}/g/config",
    f"add -f {WS}/tok",
    f"add -f {WS}/other/work.txt",
    f"add -f '{WS}/q/*.md'",
    f"rm --cached {WS}/a/qa.md",
    f"rm {WS}/q/.audit/trail.jsonl",
    f"checkout -- {WS}/q/.audit/trail.jsonl",
    f"restore {WS}/q/SOP-001.md",
    f"commit -F {WS}/tok",
    f"commit -F {WS}/host",
    f"commit -F {WS}/up/outside/host-secret.txt",
    f"tag -a v9 -F {WS}/tok",
    f"log -p -- {WS}/other/work.txt",
    f"diff -- {WS}/g/config",
    f"grep -e adk -- {WS}/tok",
    f"grep --untracked -e adk -- {WS}/other",
    f"blame {WS}/tok",
    f"ls-files -- {WS}/g",
    f"status -- {WS}/up",
    f"stash push -- {WS}/q",
]


def _plant(world: World) -> None:
    ws = world.workspace
    for name, target in LINKS.items():
        if not os.path.lexists(ws / name):
            os.symlink(target, ws / name)
    (ws / "hook").write_text("#!/bin/sh\ntouch /tmp/agentdock-pwned\n")


@pytest.mark.anyio
@pytest.mark.parametrize("command", ATTACKS)
async def test_a_link_in_any_path_position_refuses_the_step_and_changes_nothing(
    shared_world: World, command: str
) -> None:
    _plant(shared_world)
    before = snapshot(shared_world)
    outcome = await shared_world.gateway().execute(command, "claude")
    assert outcome.refused is not None, f"{command!r} ran: {outcome.result}"
    assert outcome.refused.rule in ("symlink", "agent-writable", "protected-path", "outside-project")
    assert outcome.result is None
    assert not leaked(outcome)
    assert snapshot(shared_world) == before


@pytest.mark.anyio
async def test_a_link_that_git_itself_checked_out_in_an_earlier_step_is_seen_by_the_later_step(
    world: World,
) -> None:
    """The walk runs per step: a link created by step 1 refuses step 2 of the same chain."""
    os.symlink("../.git", world.root / "docs" / "gitdir")
    world.repo.git("add", "docs/gitdir")
    world.repo.git("commit", "-q", "-m", "a tracked link")
    world.repo.git("switch", "-q", "-c", "with-link")
    world.repo.git("switch", "-q", "main")
    world.repo.git("reset", "-q", "--hard", "HEAD~1")
    assert not os.path.lexists(world.root / "docs" / "gitdir")
    before = snapshot(world, remote_refs=False)
    outcome = await world.gateway().execute("switch with-link && mv README.md docs/gitdir/config", "claude")
    assert outcome.refused is not None and outcome.refused.rule == "symlink", outcome
    assert outcome.refused.step == 2
    assert outcome.result is not None and [s.exit_code for s in outcome.result.steps] == [0]
    text, structured = render(outcome)
    assert "refused [symlink] (step 2)" in text and "1 step(s) above ran" in text
    assert structured["refused"]["step"] == 2 and len(structured["steps"]) == 1
    assert snapshot(world, remote_refs=False) == before


@pytest.mark.anyio
async def test_a_message_file_is_read_by_the_gateway_and_a_link_swapped_in_later_changes_nothing(
    world: World,
) -> None:
    """Race: a thread flips workspace/msg between a plain file and a link to a secret while the
    gateway commits with -F again and again.  Each commit gets either the plain text or a refusal;
    the secret never reaches a commit, an output or the remote."""
    msg = world.workspace / "msg"
    plain = world.workspace / "plain"
    plain.write_text("an ordinary message\n")
    secret_link = world.workspace / "secret-link"
    os.symlink("../../qa/container/.agentdock-token", secret_link)
    stop = threading.Event()
    flips = 0

    def flip() -> None:
        nonlocal flips
        while not stop.is_set() and flips < 200_000:
            for source in (plain, secret_link):
                tmp = world.workspace / ".msg-tmp"
                if source.is_symlink():
                    os.symlink(os.readlink(source), tmp)
                else:
                    tmp.write_text(source.read_text())
                os.replace(tmp, msg)
                flips += 1

    before = snapshot(world, remote_refs=False)
    thread = threading.Thread(target=flip, daemon=True)
    thread.start()
    gateway = world.gateway()
    outcomes = []
    try:
        for _ in range(25):
            outcomes.append(await gateway.execute(f"commit --allow-empty -F {WS}/msg", "claude"))
    finally:
        stop.set()
        thread.join(timeout=10)
    assert flips > 25
    ran = [o for o in outcomes if o.refused is None]
    refused = [o for o in outcomes if o.refused is not None]
    rules = {o.refused.rule for o in refused if o.refused}
    assert rules <= {"symlink", "option-file", "protected-path"}, [str(o.refused) for o in refused]
    # not vacuous: with the flipping stopped and a plain file in place the same command commits
    msg.unlink()
    msg.write_text("an ordinary message\n")
    final = await gateway.execute(f"commit --allow-empty -F {WS}/msg", "claude")
    assert final.ok, final
    ran.append(final)
    assert all(not leaked(o) for o in outcomes)
    log = world.repo.git("log", "--format=%B", "-n", str(len(ran) + 1))
    assert TOKEN_QA not in log and TOKEN_HOST not in log
    assert snapshot(world, remote_refs=False) == before


@pytest.mark.anyio
async def test_race_add_of_a_session_folder_flipped_to_a_zone_never_stages_the_zone(world: World) -> None:
    """Race: .claude/sessions/claude/d flips between a folder and a link to qa's container while the agent
    runs 'add .claude/sessions/claude/d/.agentdock-token && commit'.  git's own leading-link check and the
    walk must keep the token out of the index, every commit and every output."""
    sessions = world.root / ".claude" / "sessions" / "claude"
    real = sessions / "d-real"
    real.mkdir()
    (real / ".agentdock-token").write_text("not a secret\n")
    link = sessions / "d-link"
    os.symlink("../users/qa/container", link)
    target = sessions / "d"
    stop = threading.Event()
    flips = 0

    def flip() -> None:
        nonlocal flips
        while not stop.is_set() and flips < 200_000:
            for source in (real, link):
                tmp = sessions / ".d-tmp"
                if source.is_symlink():
                    os.symlink(os.readlink(source), tmp)
                    os.replace(tmp, target)
                else:
                    if target.is_symlink() or not target.exists():
                        if os.path.lexists(target):
                            os.unlink(target)
                        os.symlink("d-real", tmp)
                        os.replace(tmp, target)
                flips += 1

    before = snapshot(world, remote_refs=False)
    thread = threading.Thread(target=flip, daemon=True)
    thread.start()
    gateway = world.gateway()
    outcomes = []
    try:
        for n in range(20):
            outcomes.append(
                await gateway.execute(
                    f"add -f .claude/sessions/claude/d/.agentdock-token && commit -m 'race {n}'", "claude"
                )
            )
    finally:
        stop.set()
        thread.join(timeout=10)
    assert flips > 20
    assert all(not leaked(o) for o in outcomes)
    assert TOKEN_QA not in world.repo.git("log", "-p", "--all")
    assert TOKEN_QA not in world.repo.git("diff", "--cached")
    assert snapshot(world, remote_refs=False) == before


def test_links_were_really_planted(shared_world: World) -> None:
    _plant(shared_world)
    assert all((shared_world.workspace / name).is_symlink() for name in LINKS)
    assert (shared_world.workspace / "tok").read_text().strip() == TOKEN_QA
    assert Path(shared_world.workspace / "host").read_text().strip() == TOKEN_HOST
