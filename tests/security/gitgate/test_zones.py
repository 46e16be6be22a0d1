"""Protected zones: every way to rewrite the QMS's files, the roster, git's own control files; every
way to read a secret without naming it; case and magic tricks in pathspecs.

Each refused attack asserts the refusal (and its rule) and that nothing changed on disk; each
read that the gateway lets through narrowed asserts that no planted secret came back.
"""

from __future__ import annotations

import pytest

from .conftest import SECRETS, TOKEN_OWN, TOKEN_QA, World, leaked, snapshot

REWRITE_QMS_AND_ROSTER = [
    # QMS/.meta journals, the audit trail, the archive
    ("add -f QMS/.meta/SOP-001/2.journal", "protected-path"),
    ("add QMS", "protected-path"),
    ("add -A QMS/", "protected-path"),
    ("add ':(top)QMS/.meta'", "protected-path"),
    ("add ':/QMS/.audit/trail.jsonl'", "protected-path"),
    ("add 'QMS/.meta/*'", "protected-path"),
    ("add 'QMS*'", "protected-path"),
    ("add ':(glob)QMS/**'", "protected-path"),
    ("checkout -- QMS/.audit/trail.jsonl", "protected-path"),
    ("checkout HEAD~1 -- QMS/.audit/trail.jsonl", "protected-path"),
    ("checkout HEAD~1 -- QMS", "discard-changes"),
    ("restore --source=HEAD~1 QMS/.audit/trail.jsonl", "protected-path"),
    ("restore -s HEAD~1 -- QMS/.meta/SOP-001/1.journal", "protected-path"),
    ("restore --staged QMS/SOP-001.md", "protected-path"),
    ("rm QMS/.audit/trail.jsonl", "protected-path"),
    ("rm -r --cached QMS", "protected-path"),
    ("rm --cached -r .", "protected-path"),
    ("mv QMS/.archive/SOP-001 QMS/.archive/x", "protected-path"),
    ("mv README.md QMS/.archive/SOP-001/v2.md", "protected-path"),
    ("mv QMS/SOP-001.md docs/SOP-001.md", "protected-path"),
    ("reset -- QMS/.audit/trail.jsonl", "protected-path"),
    ("reset HEAD~1 -- QMS", "protected-path"),
    ("stash push -- QMS/.audit", "protected-path"),
    ("commit -m x -- .claude/agents/qa.md", "protected-path"),
    ("clean -n -- QMS", "protected-path"),
    # the roster: agent definitions
    ("rm .claude/agents/qa.md", "protected-path"),
    ("rm --cached .claude/agents/qa.md", "protected-path"),
    ("add -f .claude/agents/qa.md", "protected-path"),
    ("mv .claude/agents/qa.md .claude/agents/admin.md", "protected-path"),
    ("mv .claude/sessions/claude/notes.md .claude/agents/qa.md", "protected-path"),
    # another agent's session notes (the caller here is qa)
    ("add -f .claude/sessions/claude/notes.md", "protected-path"),
    ("rm --cached .claude/sessions/claude/notes.md", "protected-path"),
    ("checkout HEAD -- .claude/sessions/claude/notes.md", "protected-path"),
    ("restore .claude/sessions/claude/notes.md", "protected-path"),
    ("checkout HEAD~2 -- .claude/agents/qa.md", "protected-path"),
    ("restore -s HEAD~1 .claude/agents/claude.md", "protected-path"),
    ("add -f .claude/users/qa/inbox/task-1.md", "protected-path"),
    ("add -f .claude/users/claude/inbox/task-1.md", "protected-path"),
    # git's own control files
    ("add .git/config", "git-dir"),
    ("mv README.md .git/hooks/pre-commit", "git-dir"),
    ("checkout -- .git/config", "git-dir"),
    ("--git-dir=.git status", "global-option"),
    ("config core.hooksPath /tmp", "config-write"),
    ("config --file .git/config core.fsmonitor x", "protected-path"),
    ("-c core.fsmonitor=x status", "config-override"),
    ("symbolic-ref HEAD refs/heads/evil", "ref-rewrite"),
    ("update-ref refs/heads/main HEAD~1", "ref-rewrite"),
    ("shortlog --output=.git/config HEAD", "unknown-option"),
    ("blame --output=.git/config README.md", "unknown-option"),
    ("log --output=.git/config", "protected-path"),
    ("log --output=notes.txt", "output-file"),
    ("submodule update --init", "submodule"),
    ("diff --output .git/hooks/pre-commit", "protected-path"),
    ("format-patch -o .git/hooks HEAD~1", "unknown-subcommand"),
    ("notes add -m x HEAD", "unknown-subcommand"),
    ("replace HEAD HEAD~1", "unknown-subcommand"),
    ("worktree add .claude/users/claude/workspace/wt", "worktree"),
    ("submodule add ../x vendor/x", "outside-project"),
    ("remote set-url origin /tmp/evil", "remote-write"),
    ("stash drop", "stash-destructive"),
    ("switch --orphan empty", "unknown-option"),
    ("checkout --orphan empty", "unknown-option"),
    ("stash clear", "stash-destructive"),
    ("filter-branch -f --tree-filter true HEAD", "history-rewrite"),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("command", "rule"), REWRITE_QMS_AND_ROSTER)
async def test_every_way_to_rewrite_a_zone_is_refused_and_nothing_changes(
    shared_world: World, command: str, rule: str
) -> None:
    before = snapshot(shared_world)
    outcome = await shared_world.gateway().execute(command, "qa")
    assert outcome.refused is not None, f"{command!r} ran: {outcome.result}"
    assert outcome.refused.rule == rule, str(outcome.refused)
    assert outcome.result is None
    assert snapshot(shared_world) == before


READ_A_SECRET_BY_NAME = [
    ("show :.claude/users/qa/container/.agentdock-token", "protected-path"),
    ("grep -e adk -- .claude/users/qa", "protected-path"),
    ("grep --untracked -e adk -- .agentdock", "protected-path"),
    ("log -p -- .claude/users/claude/container", "protected-path"),
    ("diff --no-index README.md .agentdock/overlays/qa/mcp.json", "protected-path"),
    ("commit -F .claude/users/qa/container/.agentdock-token", "protected-path"),
    ("commit -F .claude/users/claude/container/.agentdock-token", "protected-path"),
    ("tag -a t -F .agentdock/overlays/qa/mcp.json", "protected-path"),
    ("blame --contents .agentdock/overlays/qa/mcp.json README.md", "protected-path"),
    ("grep -f .agentdock/overlays/qa/mcp.json", "protected-path"),
    ("ls-files -X .agentdock/overlays/qa/mcp.json", "protected-path"),
    ("cat-file --filters --path=.agentdock/tokens.json HEAD:README.md", "unknown-option"),
    ("grep --no-exclude-standard -e adk", "unknown-option"),
    ("grep --untracked --no-exclude-standard -e adk", "unknown-option"),
    ("ls-files --ignored --others --exclude-standard", "unknown-option"),
    ("stash -a", "stash-destructive"),
    ("add -f .agentdock", "protected-path"),
    ("add -f .claude/users/qa/workspace/work.txt", "protected-path"),
    ("rev-parse --git-path config", "unknown-option"),
    ("archive HEAD .agentdock", "unknown-subcommand"),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("command", "rule"), READ_A_SECRET_BY_NAME)
async def test_naming_a_secret_is_refused(shared_world: World, command: str, rule: str) -> None:
    before = snapshot(shared_world)
    outcome = await shared_world.gateway().execute(command, "claude")
    assert outcome.refused is not None, f"{command!r} ran"
    assert outcome.refused.rule == rule, str(outcome.refused)
    assert not leaked(outcome)
    assert snapshot(shared_world) == before


#: broad commands that run narrowed: the secrets are in untracked, ignored or private places
READ_A_SECRET_WITHOUT_NAMING_IT = [
    "grep --untracked -e adk",
    "grep --untracked -e PLANTED -- .",
    "add -f . && commit -m all && show --stat HEAD && log -p -1",
    "add -f -A && commit -m all2 && cat-file -p HEAD^{tree}",
    "add -A && stash -u && stash show -p --include-untracked stash@{0} && stash pop",
    "commit -a -m tracked-only && show HEAD",
    "clean -n -x -d",
    "status --ignored --untracked-files=all",
    "ls-files --others",
    "diff HEAD",
    "grep -e PLANTED HEAD",
]


@pytest.mark.anyio
@pytest.mark.parametrize("command", READ_A_SECRET_WITHOUT_NAMING_IT)
async def test_broad_reads_and_commits_never_reach_a_secret(world: World, command: str) -> None:
    before = snapshot(world, remote_refs=False)
    outcome = await world.gateway().execute(command, "claude")
    assert outcome.refused is None, str(outcome.refused)
    assert outcome.result is not None
    assert not leaked(outcome), leaked(outcome)
    history = world.repo.git("log", "-p", "--all") + world.repo.git("diff", "--cached")
    assert not [s for s in SECRETS if s in history]
    assert snapshot(world, remote_refs=False) == before


CASE_AND_MAGIC = [
    ("add ':(icase)qms/SOP-001.md'", "protected-path"),
    ("--icase-pathspecs add qms", "protected-path"),
    ("--icase-pathspecs restore src/app.py", "pathspec-icase"),
    ("restore ':(icase)SRC/app.py'", "pathspec-icase"),
    ("checkout -- ':(icase)QMS/.AUDIT/trail.jsonl'", "protected-path"),
    ("rm -r . ':!.CLAUDE/USERS/QA'", "protected-path"),
    ("rm -r ':!src'", "protected-path"),
    ("rm --cached ':^README.md'", "protected-path"),
    ("add ':(prefix:0)QMS'", "pathspec-magic"),
    ("add ':(top,nosuch)QMS'", "pathspec-magic"),
    ("add ':-QMS'", "pathspec-magic"),
    ("add ':(literal)QMS'", "protected-path"),
    ("add ':(exclude)README.md' QMS", "protected-path"),
    ("--literal-pathspecs add -A", "protected-path"),
    ("--noglob-pathspecs add 'QMS'", "protected-path"),
    ("add .claude/users/qa/../../agents/qa.md", "protected-path"),
    ("add .claude/sessions/claude/../../agents/qa.md", "protected-path"),
    ("add ./QMS/./SOP-001.md", "protected-path"),
    ("add '.claude/agent?/qa.md'", "protected-path"),
    ("add '.claude/[a]gents'", "protected-path"),
    ("add '.claude/users/claude/work*'", "protected-path"),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("command", "rule"), CASE_AND_MAGIC)
async def test_case_and_magic_tricks_are_refused(shared_world: World, command: str, rule: str) -> None:
    before = snapshot(shared_world)
    outcome = await shared_world.gateway().execute(command, "claude")
    assert outcome.refused is not None, f"{command!r} ran: {outcome.result}"
    assert outcome.refused.rule == rule, str(outcome.refused)
    assert snapshot(shared_world) == before


@pytest.mark.anyio
async def test_a_case_variant_of_a_zone_is_just_another_path_to_git_and_to_the_gateway(world: World) -> None:
    """On a case-sensitive file system 'qms/' is not 'QMS/': adding it changes no zone."""
    (world.root / "qms").mkdir()
    (world.root / "qms" / "x.md").write_text("lower-case folder\n")
    before = snapshot(world, remote_refs=False)
    outcome = await world.gateway().execute("add qms/x.md && commit -m lower", "claude")
    assert outcome.ok, outcome
    assert snapshot(world, remote_refs=False) == before


@pytest.mark.anyio
async def test_the_everyday_session_flow_still_works_and_qms_changes_made_by_the_qms_can_be_committed(
    world: World,
) -> None:
    (world.root / ".claude" / "sessions" / "claude" / "s2.md").write_text("more notes\n")
    (world.root / "QMS" / ".audit" / "trail.jsonl").write_text('{"seq": 1}\n{"seq": 2}\n{"seq": 3}\n')
    world.repo.git("add", "QMS/.audit/trail.jsonl")  # the QMS stages its own change
    outcome = await world.gateway().execute(
        "add .claude/sessions/claude/ && commit -m 'session notes' && push origin main", "claude"
    )
    assert outcome.ok, outcome
    shown = world.repo.git("show", "--stat", "HEAD", cwd=world.repo.remote)
    assert ".claude/sessions/claude/s2.md" in shown and "QMS/.audit/trail.jsonl" in shown


@pytest.mark.anyio
async def test_an_agent_cannot_read_its_own_token_through_git_either(world: World) -> None:
    """The caller's container folder holds its Claude config: committing it would push it to the remote."""
    for command in (
        "add -f .claude/users/claude/container",
        "add -f .claude/users/claude/container/.agentdock-token",
    ):
        outcome = await world.gateway().execute(command, "claude")
        assert outcome.refused is not None and outcome.refused.rule == "protected-path", command
    assert TOKEN_OWN not in world.repo.git("diff", "--cached")
    assert TOKEN_QA not in world.repo.git("diff", "--cached")


def test_pathspec_environment_variables_never_reach_git() -> None:
    """GIT_*_PATHSPECS would change how git reads every pathspec: the environment is fixed."""
    from pathlib import Path

    from agentdock.gitgate.executor import build_env

    hostile = {f"GIT_{kind}_PATHSPECS": "1" for kind in ("LITERAL", "GLOB", "NOGLOB", "ICASE")}
    env = build_env({"PATH": "/usr/bin", **hostile}, Path("/repo"))
    assert not set(hostile) & set(env)


@pytest.mark.anyio
async def test_revert_or_cherry_pick_of_a_commit_that_changed_a_zone_is_refused(world: World) -> None:
    """Reverting the QMS's commit would roll its audit trail back in a new commit; picking one replays it."""
    world.repo.git("switch", "-q", "-c", "qms-side")
    (world.root / "QMS" / ".audit" / "trail.jsonl").write_text('{"seq": 1}\n{"seq": 2}\n{"seq": 3}\n')
    world.repo.git("commit", "-q", "-am", "QMS: seq 3")
    world.repo.git("switch", "-q", "main")
    before = snapshot(world, remote_refs=False)
    gateway = world.gateway()
    for command in (
        "revert --no-edit HEAD",
        "revert -n HEAD~1..HEAD",
        "cherry-pick qms-side",
        "cherry-pick -x main..qms-side",
    ):
        outcome = await gateway.execute(command, "claude")
        assert outcome.refused is not None and outcome.refused.rule == "protected-path", (command, outcome)
        assert "QMS" in outcome.refused.reason
    assert snapshot(world, remote_refs=False) == before
    (world.root / "README.md").write_text("# edited\n")
    outcome = await gateway.execute("add README.md && commit -m edit && revert --no-edit HEAD", "claude")
    assert outcome.ok, outcome
    assert snapshot(world, remote_refs=False) == before
