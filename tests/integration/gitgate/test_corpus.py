"""The corpus: hostile commands all refused (and nothing changes), everyday commands all run.

Both run through :class:`GitGateway` — the same path the MCP tool takes — against a real
repository with a real submodule (``vendor/lib``) and a local bare remote (``origin``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from agentdock.gitgate.executor import ExecLimits, build_env
from agentdock.gitgate.gateway import GateConfig, GitGateway
from agentdock.gitgate.scratch import ScratchRepo, scratch_repository

# (command, the rule that must refuse it)
HOSTILE: list[tuple[str, str]] = [
    # force pushes, every spelling
    ("push -f origin main", "force-push"),
    ("git push --force origin main", "force-push"),
    ("push origin main --force", "force-push"),
    ("push origin main -f", "force-push"),
    ("push --forc origin main", "force-push"),
    ("push --for origin main", "force-push"),
    ("push --force-with-lease origin main", "force-push"),
    ("push --force-with-lease=main:0123abc origin main", "force-push"),
    ("push --force-w origin main", "force-push"),
    ("push --force-i --force-with-lease origin main", "force-push"),
    ("push --mirror origin", "force-push"),
    ("push --mirr origin", "force-push"),
    ("push origin +main", "force-push"),
    ("push origin '+main:main'", "force-push"),
    ('push origin "+HEAD:refs/heads/main"', "force-push"),
    ("push origin '+refs/heads/*:refs/heads/*'", "force-push"),
    ("push -uf origin main", "force-push"),
    ("push -qvf origin main", "force-push"),
    ("push origin \\-f", "force-push"),
    ('push origin -""f', "force-push"),
    ("push --repo=origin --force", "force-push"),
    ("push origin --end-of-options +main", "force-push"),
    ("status && push origin +main", "force-push"),
    # deleting protected branches, pruning the remote
    ("push origin :main", "remote-delete"),
    ("push origin --delete main", "remote-delete"),
    ("push -d origin master", "remote-delete"),
    ("push origin --del main", "remote-delete"),
    ("push origin :refs/heads/main", "remote-delete"),
    ("push --prune origin", "remote-delete"),
    ("push . :feature", "remote-delete"),
    ("push --delete . feature", "remote-delete"),
    # look-alikes and invisible characters
    ("push origin \u2010\u2010force", "unicode-lookalike"),
    ("push origin \uff0d\uff0dforce", "unicode-lookalike"),
    ("push origin \uff0bmain", "unicode-lookalike"),
    ("pu\u0455h -f origin main", "unicode-lookalike"),
    ("\u0261it push -f origin main", "unicode-lookalike"),
    ("push origin --for\u0441e", "unicode-lookalike"),
    ("status\u200b", "unicode-lookalike"),
    ("push origin \u200b+main", "unicode-lookalike"),
    ("push origin\u00a0-f", "unicode-lookalike"),
    # destroying uncommitted work
    ("reset --hard", "reset-destructive"),
    ("reset --hard origin/main", "reset-destructive"),
    ("reset --ha HEAD~1", "reset-destructive"),
    ("reset --merge", "reset-destructive"),
    ("reset -q --mer HEAD", "reset-destructive"),
    ("clean -f", "clean-force"),
    ("clean -fd", "clean-force"),
    ("clean -xdf", "clean-force"),
    ("clean -d -f -x", "clean-force"),
    ("clean --force", "clean-force"),
    ("clean --forc -d", "clean-force"),
    ("clean -ff", "clean-force"),
    ("clean -d", "clean-force"),
    ("clean -n --no-dry-run", "clean-force"),
    ("clean -i", "clean-force"),
    ("checkout .", "discard-changes"),
    ("checkout -- .", "discard-changes"),
    ("checkout HEAD -- src", "discard-changes"),
    ("checkout HEAD~1 -- docs/", "discard-changes"),
    ("checkout -f", "discard-changes"),
    ("checkout --force main", "discard-changes"),
    ("checkout ':/'", "discard-changes"),
    ("checkout -- '*.py'", "discard-changes"),
    ("restore .", "discard-changes"),
    ("checkout -- ':!README.md'", "discard-changes"),
    ("restore ':(exclude)docs'", "discard-changes"),
    ("restore --source=HEAD~1 src", "discard-changes"),
    ("restore -W -S .", "discard-changes"),
    ("restore ':(top)'", "discard-changes"),
    ("-C src restore .", "discard-changes"),
    ("switch --discard-changes feature", "switch-force"),
    ("switch -f feature", "switch-force"),
    # rewriting branches and history
    ("branch -D feature", "branch-force"),
    ("branch -d --force feature", "branch-force"),
    ("branch --delete --force feature", "branch-force"),
    ("branch -df feature", "branch-force"),
    ("branch -fd feature", "branch-force"),
    ("branch -M feature main", "branch-force"),
    ("branch -f main HEAD~1", "branch-force"),
    ("branch -C feature main", "branch-force"),
    ("branch --forc main HEAD", "branch-force"),
    ("checkout -B main", "branch-force"),
    ("switch -C main", "branch-force"),
    ("tag -f v0 HEAD~1", "tag-force"),
    ("filter-branch --force --index-filter 'git rm --cached x' HEAD", "history-rewrite"),
    ("update-ref -d refs/heads/feature", "ref-rewrite"),
    ("update-ref --delete refs/heads/feature", "ref-rewrite"),
    ("update-ref refs/heads/main HEAD~1", "ref-rewrite"),
    ("symbolic-ref -d HEAD", "ref-rewrite"),
    ("update-ref refs/heads/feature HEAD~1", "ref-rewrite"),
    ("update-ref refs/tags/v0 HEAD", "ref-rewrite"),
    ("reflog expire --expire=now --all", "reflog-expire"),
    ("reflog delete HEAD@{0}", "reflog-expire"),
    ("gc --prune=now", "gc-prune"),
    ("gc --aggressive --prune=all", "gc-prune"),
    ("stash clear", "stash-destructive"),
    ("stash -a", "stash-destructive"),
    ("stash push --all", "stash-destructive"),
    ("stash save -a", "stash-destructive"),
    ("rm -f README.md", "overwrite"),
    ("rm -rf src", "overwrite"),
    ("mv -f README.md docs/guide.md", "overwrite"),
    # configuration
    ("config user.name evil", "config-write"),
    ("config --global core.hooksPath /tmp/hooks", "config-write"),
    ("config --unset user.email", "config-write"),
    ("config --add core.sshCommand 'sh -c x'", "config-write"),
    ("config -e", "config-write"),
    ("config --replace-all user.name x", "config-write"),
    ("remote add evil /tmp/evil.git", "remote-write"),
    ("remote set-url origin /tmp/evil.git", "remote-write"),
    ("remote rename origin upstream", "remote-write"),
    # -c / --config-env tricks
    ("-c core.hooksPath=/tmp/hooks commit -m x", "config-override"),
    ("-c 'core.sshCommand=touch /tmp/pwned' fetch origin", "config-override"),
    ("-c 'alias.status=!touch /tmp/pwned' status", "config-override"),
    ("-c Core.HooksPath=/tmp status", "config-override"),
    ("-c 'core.fsmonitor=touch /tmp/x' status", "config-override"),
    ("-c 'core.pager=sh -c x' log", "config-override"),
    ("-c diff.external=/tmp/x diff", "config-override"),
    ("-c filter.x.clean=/tmp/x add README.md", "config-override"),
    ("-c 'credential.helper=!sh' push origin main", "config-override"),
    ("-c include.path=/tmp/evil status", "config-override"),
    ("-c protocol.ext.allow=always fetch origin", "config-override"),
    ("-c remote.origin.url=/tmp/evil push origin main", "config-override"),
    ("-c core.hooksPath status", "config-override"),
    ("-c clean.requireForce=false clean -d", "config-override"),
    ("--config-env=core.editor=EVIL commit", "config-override"),
    # environment tricks
    ("GIT_DIR=/tmp/x git status", "environment"),
    ("GIT_SSH_COMMAND='touch /tmp/x' git fetch", "environment"),
    ("HOME=/tmp git status", "environment"),
    ("status && GIT_DIR=x git log", "environment"),
    ("env GIT_DIR=/tmp git status", "unknown-subcommand"),
    # aliases, external commands, help viewers
    ("st", "unknown-subcommand"),
    ("lfs push origin --all", "unknown-subcommand"),
    ("difftool", "unknown-subcommand"),
    ("help log", "unknown-subcommand"),
    ("web--browse http://x", "unknown-subcommand"),
    ("archive --output=/tmp/x HEAD", "unknown-subcommand"),
    ("log --help", "help-viewer"),
    # escaping the project
    ("--git-dir=/tmp/x status", "global-option"),
    ("--git-dir /tmp/x status", "global-option"),
    ("--work-tree=/ status", "global-option"),
    ("--exec-path=/tmp/evil status", "global-option"),
    ("--namespace=evil push origin main", "global-option"),
    ("-p log", "global-option"),
    ("--bare status", "global-option"),
    ("--super-prefix=x/ status", "global-option"),
    ("-C / status", "outside-project"),
    ("-C .. status", "outside-project"),
    ("-C /tmp log", "outside-project"),
    ("-C src -C ../.. status", "outside-project"),
    ("diff /etc/passwd README.md", "outside-project"),
    ("log -- ../..", "outside-project"),
    ("commit -F /etc/shadow", "outside-project"),
    ("commit -F ../secret.txt", "outside-project"),
    ("blame --contents /etc/passwd README.md", "outside-project"),
    ("rm -rf /", "outside-project"),
    ("-C .git log", "git-dir"),
    ("-C .git/hooks status", "git-dir"),
    ("add .git/hooks/pre-commit", "git-dir"),
    ("diff --no-index README.md src/app.py", "no-index"),
    ("grep --no-index root", "no-index"),
    # protected paths: the submodule, private state, other agents
    ("-C vendor/lib status", "protected-path"),
    ("-C vendor/lib commit --allow-empty -m x", "protected-path"),
    ("-C vendor -C lib log", "protected-path"),
    ("-C src -C ../vendor/lib status", "protected-path"),
    ("add vendor/lib", "protected-path"),
    ("add ./vendor/lib", "protected-path"),
    ("add src/../vendor/lib", "protected-path"),
    ("add ':(top)vendor/lib'", "protected-path"),
    ("-C src add ':/vendor/lib'", "protected-path"),
    ("add ':(icase)VENDOR/LIB'", "protected-path"),
    ("rm -r vendor", "protected-path"),
    ("rm -r ':!src'", "protected-path"),
    ("-C vendor rm -r --cached ':^README.md'", "protected-path"),
    ("rm --cached vendor/lib", "protected-path"),
    ("mv vendor/lib vendor/lib2", "protected-path"),
    ("mv vendor other", "protected-path"),
    ("commit -m 'bump' vendor/lib", "protected-path"),
    ("reset HEAD -- vendor/lib", "protected-path"),
    ("stash push -- vendor/lib", "protected-path"),
    ("submodule deinit -f vendor/lib", "protected-path"),
    ("add -f .agentdock/tokens.json", "protected-path"),
    ("add --force -- .claude", "protected-path"),
    ("-C .claude/users/qa/workspace status", "protected-path"),
    ("commit -F .claude/users/qa/container/.agentdock-token", "protected-path"),
    ("log -- .claude/users/qa", "protected-path"),
    # submodule operations
    ("submodule update --init --recursive", "submodule"),
    ("submodule foreach 'rm -rf .'", "submodule"),
    ("submodule sync", "submodule"),
    ("checkout --recurse-submodules main", "submodule"),
    ("pull --recurse-submodules origin main", "submodule"),
    ("push --recurse-submodules=on-demand origin main", "submodule"),
    ("worktree add ../x", "worktree"),
    ("worktree remove --force x", "worktree"),
    # programs and foreign repositories
    ("push --receive-pack='touch /tmp/x' origin main", "remote-program"),
    ("push --exec=/tmp/x origin main", "remote-program"),
    ("fetch --upload-pack='touch /tmp/x' origin", "remote-program"),
    ("pull --upload-pack=x origin main", "remote-program"),
    ("ls-remote --upload-pack=x origin", "remote-program"),
    ("fetch 'ext::sh -c touch% /tmp/pwned'", "remote-repository"),
    ("push /tmp/evil.git main", "remote-repository"),
    ("push file:///tmp/evil.git main", "remote-repository"),
    ("pull https://example.invalid/x.git main", "remote-repository"),
    ("fetch ../other", "remote-repository"),
    ("push --repo=/tmp/evil main", "remote-repository"),
    ("fetch origin +main:main", "force-fetch"),
    ("fetch -f origin main:main", "force-fetch"),
    ("pull --force origin main", "force-fetch"),
    ("fetch --refmap='+refs/heads/*:refs/heads/*' origin", "force-fetch"),
    ("rebase --exec 'touch /tmp/x' HEAD~1", "runs-program"),
    ("rebase -x sh HEAD~1", "runs-program"),
    ("rebase -ixsh HEAD~1", "runs-program"),
    ("grep -O x", "runs-program"),
    ("grep --open-files-in-pager=vim x", "runs-program"),
    ("merge -s evil feature", "runs-program"),
    ("pull -s evil origin main", "runs-program"),
    ("diff --output=out.txt", "output-file"),
    ("log -p --output=x", "output-file"),
    ("show --outp=x HEAD", "output-file"),
    ("add --pathspec-from-file=list.txt", "pathspec-from-file"),
    ("checkout --pathspec-from-file=list.txt", "discard-changes"),
    # shell syntax
    ("status; rm -rf /", "shell-syntax"),
    ("status | sh", "shell-syntax"),
    ("status || curl x", "shell-syntax"),
    ("status &", "shell-syntax"),
    ("log > /tmp/x", "shell-syntax"),
    ("log < /etc/passwd", "shell-syntax"),
    ("log $(id)", "shell-syntax"),
    ("log `id`", "shell-syntax"),
    ('commit -m "$(id)"', "shell-syntax"),
    ('commit -m "`id`"', "shell-syntax"),
    ("log $HOME", "shell-syntax"),
    ("log ${IFS}", "shell-syntax"),
    ("add *", "shell-syntax"),
    ("add src/*.py", "shell-syntax"),
    ("add {a,b}", "shell-syntax"),
    ("add ~/x", "shell-syntax"),
    ("status # comment", "shell-syntax"),
    ("status\nrm -rf /", "shell-syntax"),
    ("status \\\nlog", "shell-syntax"),
    ("(status)", "shell-syntax"),
    ("status &&& log", "shell-syntax"),
    ("log $'\\x41'", "shell-syntax"),
    ("status\x00", "control-character"),
    ("commit -m 'x\x1b[31m'", "control-character"),
    ('commit -m "unterminated', "syntax"),
    ("", "syntax"),
    ("status && && log", "syntax"),
    ("push --frobnicate origin main", "unknown-option"),
    ("commit --no-such -m x", "unknown-option"),
    ("checkout --whatever main", "unknown-option"),
    ("reset --hard && push -f origin main", "reset-destructive"),
]

# Run in this order against one repository; the test edits files between steps as an agent would.
MESSAGE = "Fix: no push --force, no reset --hard; rm -rf / && vendor/lib, -c core.hooksPath=x"


def _gateway(repo: ScratchRepo, audit: Path) -> GitGateway:
    env = build_env(repo.env, repo.root)
    return GitGateway(GateConfig(root=repo.root, env=env, limits=ExecLimits(timeout_s=60), audit_file=audit))


def _state(repo: ScratchRepo) -> dict[str, str]:
    return {
        "refs": repo.git("for-each-ref", "--format=%(refname) %(objectname)"),
        "remote": repo.git("for-each-ref", "--format=%(refname) %(objectname)", cwd=repo.remote),
        "status": repo.git("status", "--porcelain", "--ignored"),
        "config": (repo.root / ".git" / "config").read_text(),
        "stashes": repo.git("stash", "list"),
        "reflog": repo.git("reflog", "--all", "--format=%H %gs"),
        "files": "\n".join(
            f"{p.relative_to(repo.root)}:{p.read_bytes().hex()[:64]}"
            for p in sorted(repo.root.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(repo.root).parts[:1]
        ),
    }


def test_the_hostile_corpus_is_large_and_distinct() -> None:
    commands = [c for c, _ in HOSTILE]
    assert len(commands) >= 80
    assert len(set(commands)) == len(commands)


@pytest.mark.anyio
async def test_every_hostile_command_is_refused_by_its_rule_and_nothing_changes(
    scratch: ScratchRepo, tmp_path: Path
) -> None:
    (scratch.root / ".agentdock").mkdir(exist_ok=True)
    (scratch.root / ".agentdock" / "tokens.json").write_text("{}")
    (scratch.root / "src" / "app.py").write_text("print('uncommitted work')\n")
    before = _state(scratch)
    gateway = _gateway(scratch, tmp_path / "audit.jsonl")
    wrong: list[str] = []
    for command, rule in HOSTILE:
        outcome = await gateway.execute(command, "claude")
        if outcome.refused is None:
            ran = outcome.result.planned if outcome.result is not None else ()
            wrong.append(f"NOT REFUSED: {command!r} ran {ran}")
        elif outcome.refused.rule != rule:
            wrong.append(
                f"{command!r}: refused by {outcome.refused.rule}, expected {rule}: {outcome.refused}"
            )
        elif outcome.result is not None:
            wrong.append(f"{command!r}: refused after some steps ran")
    assert not wrong, "\n".join(wrong)
    assert _state(scratch) == before
    audit = (tmp_path / "audit.jsonl").read_text().splitlines()
    assert len(audit) == len(HOSTILE)
    assert all('"agent": "claude"' in line and '"outcome": "refused"' in line for line in audit)
    (scratch.root / "src" / "app.py").write_text("print('app')\n")


# Broad or case-tricked adds that used to be refused now run narrowed: the gateway appends
# ':(top,exclude,literal)<zone>' and git leaves the zones out; comparisons are exact, so
# 'VENDOR/LIB' names nothing on a case-sensitive file system.
NARROWED = [
    "add 'vendor/l*'",
    "add 'vendor/*'",
    "add VENDOR/LIB",
    "add 'vendor/li\\b'",
    "add 'vendor/[l]ib'",
    "add -f -A",
    "add -f .",
    "add -A -- . ':!.CLAUDE/USERS/QA'",
]


@pytest.mark.anyio
async def test_broad_adds_run_narrowed_and_leave_every_zone_alone(tmp_path: Path) -> None:
    with scratch_repository(tmp_path / "repo") as repo:
        (repo.root / ".agentdock").mkdir()
        (repo.root / ".agentdock" / "tokens.json").write_text("{}")
        (repo.root / ".claude" / "users" / "qa" / "workspace" / "secret.txt").write_text("qa-secret")
        (repo.root / "vendor" / "lib" / "lib.c").write_text("changed inside the submodule\n")
        gateway = _gateway(repo, tmp_path / "audit.jsonl")
        for command in NARROWED:
            outcome = await gateway.execute(command, "claude")
            assert outcome.refused is None, f"{command!r}: {outcome.refused}"
            staged = repo.git("diff", "--cached", "--name-only").split()
            assert not [
                p for p in staged if p.startswith((".agentdock", ".claude/users/qa", "vendor/lib"))
            ], (
                command,
                staged,
            )
        assert repo.git("ls-files", "--stage", "vendor/lib").startswith("160000 ")


def _edit(path: str, text: str) -> Callable[[ScratchRepo], None]:
    def apply(repo: ScratchRepo) -> None:
        target = repo.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)

    return apply


EVERYDAY: list[str | Callable[[ScratchRepo], None]] = [
    "status",
    "git status --short --branch",
    "log --oneline -10",
    "log -3 --format='%h %an %s'",
    "show --stat HEAD",
    "branch -a",
    "remote -v",
    "config --get user.name",
    "submodule status",
    "switch -c topic",
    _edit("src/app.py", "print('topic work')\n"),
    "diff",
    "diff --stat",
    "add src/app.py",
    f"commit -m '{MESSAGE}'",
    _edit(".claude/sessions/claude/notes.md", "session notes\n"),
    "git add -f .claude/sessions/claude/ && git commit -m 'Session notes: never git push -f' && git push -u origin topic",
    "fetch",
    "fetch --prune origin",
    "pull --rebase",
    _edit("docs/guide.md", "guide, edited\n"),
    "stash",
    "stash list",
    "stash pop",
    "checkout -- docs/guide.md",
    _edit("src/util.py", "def util():\n    return 2\n"),
    "add src/util.py",
    "restore --staged src/util.py",
    "restore src/util.py",
    "switch main",
    "merge --no-ff topic -m 'Merge topic (was: push --force?)'",
    "push origin main",
    "tag -a v1.0 -m 'v1.0'",
    "push origin v1.0",
    "describe --tags",
    "log --graph --oneline --all -20",
    "blame README.md",
    "grep -n print -- src",
    "log -1 -- src/app.py",
    "rev-parse HEAD",
    "ls-files",
    "shortlog -sn HEAD",
    "reflog -5",
    "clean -n",
    "branch -d topic",
    "push origin --delete topic",
    "reset --soft HEAD~1",
    "reset --keep HEAD@{1}",
    "commit --amend --no-edit --allow-empty",
]


@pytest.mark.anyio
async def test_everyday_commands_are_allowed_and_really_run(scratch: ScratchRepo, tmp_path: Path) -> None:
    commands = [step for step in EVERYDAY if isinstance(step, str)]
    assert len(commands) >= 20
    gateway = _gateway(scratch, tmp_path / "audit.jsonl")
    for step in EVERYDAY:
        if not isinstance(step, str):
            step(scratch)
            continue
        outcome = await gateway.execute(step, "claude")
        assert outcome.refused is None, f"{step!r}: {outcome.refused}"
        assert outcome.result is not None
        failed = [s for s in outcome.result.steps if not s.ok]
        assert outcome.ok, f"{step!r} failed: {failed}"
    # the effects are real: the remote has the merge and the tag, the topic branch is gone from it
    remote_refs = scratch.git("for-each-ref", "--format=%(refname)", cwd=scratch.remote).split()
    assert "refs/tags/v1.0" in remote_refs and "refs/heads/topic" not in remote_refs
    subject = scratch.git("log", "-1", "--format=%s", "main", cwd=scratch.remote).strip()
    assert subject == "Merge topic (was: push --force?)"
    assert MESSAGE in scratch.git("log", "--format=%s", "main", cwd=scratch.remote)
