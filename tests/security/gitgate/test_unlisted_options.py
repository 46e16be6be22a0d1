"""Default-deny, checked against git itself: every option git offers that the gateway did not list is refused.

For each allowed subcommand (and stash action), ``git <cmd> --git-completion-helper-all`` prints every
option the installed git knows.  Each one missing from the gateway's allow-list is sent through the
policy and must be refused; each one on the list must exist in git with the same arity (so the
parser reads the next word exactly as git does).
"""

from __future__ import annotations

import subprocess

import pytest

from agentdock.gitgate.commands import ACTIONS, COMMANDS
from agentdock.gitgate.errors import Refused
from agentdock.gitgate.executor import build_env
from agentdock.gitgate.facts import RepoFacts, load_facts
from agentdock.gitgate.options import Arity, CommandSpec
from agentdock.gitgate.policy import judge

from .conftest import World, snapshot

#: parse-options commands: the helper output is git's complete option table for them
_FULL_TABLES = (
    "status",
    "shortlog",
    "blame",
    "grep",
    "ls-files",
    "ls-tree",
    "cat-file",
    "describe",
    "for-each-ref",
    "name-rev",
    "merge-base",
    "count-objects",
    "check-ignore",
    "ls-remote",
    "symbolic-ref",
    "config",
    "add",
    "rm",
    "mv",
    "commit",
    "push",
    "fetch",
    "pull",
    "merge",
    "rebase",
    "cherry-pick",
    "revert",
    "reset",
    "clean",
    "checkout",
    "restore",
    "switch",
    "branch",
    "tag",
    "gc",
    "stash push",
    "stash show",
    "stash pop",
    "stash apply",
)


#: commands that parse diff/revision options with git's diff machinery: checked against the
#: option table 'git diff' prints (plus log's own)
_DIFF_FAMILY = (
    "log",
    "show",
    "whatchanged",
    "diff",
    "diff-tree",
    "diff-index",
    "diff-files",
    "range-diff",
    "rev-list",
    "stash show",
    "stash list",
    "reflog show",
)


def _helper(world: World, command: str) -> list[str]:
    done = subprocess.run(
        ["git", *command.split(), "--git-completion-helper-all"],
        cwd=world.root,
        env=world.repo.env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return [w for w in done.stdout.split() if w.startswith("--") and w != "--"]


def _spec(command: str) -> CommandSpec:
    if " " in command:
        parent, action = command.split(" ", 1)
        return ACTIONS[parent].allowed[action]
    return COMMANDS[command]


def _allowed_spellings(spec: CommandSpec) -> set[str]:
    names: set[str] = set()
    for opt in spec.all_options():
        if opt.allowed:
            names.update(f"--{n}" for n in opt.longs)
        if opt.negatable:
            names.update(f"--no-{n}" for n in opt.longs)
    return names


def _facts(world: World) -> RepoFacts:
    return load_facts(world.root, build_env(world.repo.env, world.root), caller="claude")


def test_every_option_git_offers_that_is_not_listed_is_refused(shared_world: World) -> None:
    facts = _facts(shared_world)
    before = snapshot(shared_world)
    let_through: list[str] = []
    tried = 0
    for command in _FULL_TABLES:
        allowed = _allowed_spellings(_spec(command))
        for word in _helper(shared_world, command):
            name = word.rstrip("=")
            if name in allowed:
                continue
            tried += 1
            line = f"{command} {name}=x" if word.endswith("=") else f"{command} {name}"
            try:
                judge(line + " -- README.md" if command in ("add", "rm") else line, facts)
            except Refused:
                continue
            let_through.append(line)
    diff_table = _helper(shared_world, "diff") + _helper(shared_world, "log")
    for command in _DIFF_FAMILY:
        allowed = _allowed_spellings(_spec(command))
        for word in diff_table:
            name = word.rstrip("=")
            if name in allowed:
                continue
            tried += 1
            line = f"{command} {name}=x" if word.endswith("=") else f"{command} {name}"
            try:
                judge(line, facts)
            except Refused:
                continue
            let_through.append(line)
    assert tried > 150, tried  # the list really came from git
    print(f"{tried} unlisted options refused")
    assert not let_through, let_through
    assert snapshot(shared_world) == before


#: options git parses with its revision or diff machinery, which the helper does not list
_MACHINERY = {"blame": {"date", "since", "encoding", "reverse"}}
#: options the helper prints without '=' though they take the next word (verified by hand)
_HELPER_QUIRKS = {("merge", "file")}


@pytest.mark.parametrize("command", [c for c in _FULL_TABLES if c not in ("shortlog", "stash show")])
def test_each_listed_option_exists_in_git_with_the_same_arity(shared_world: World, command: str) -> None:
    offered = {w.rstrip("="): w.endswith("=") for w in _helper(shared_world, command)}
    for quirk_command, name in _HELPER_QUIRKS:
        if quirk_command == command:
            offered[f"--{name}"] = True
    assert offered, f"git {command} --git-completion-helper-all printed nothing"
    wrong = []
    for opt in _spec(command).options:
        if not opt.allowed or opt.key in _MACHINERY.get(command, set()):
            continue
        for long in opt.longs:
            name = f"--{long}"
            if name not in offered:
                wrong.append(f"{name}: git {command} has no such option")
            elif offered[name] != (opt.arity is Arity.REQUIRED):
                wrong.append(f"{name}: git says value required={offered[name]}, table says {opt.arity}")
    assert not wrong, wrong


def test_write_and_file_options_are_on_no_list() -> None:
    dangerous = {
        "output",
        "output-directory",
        "o",
        "contents",
        "ignore-revs-file",
        "exclude-from",
        "file",
        "upload-pack",
        "receive-pack",
        "exec",
        "open-files-in-pager",
        "no-index",
        "ext-diff",
        "textconv",
        "template",
        "pathspec-from-file",
        "git-path",
        "resolve-git-dir",
    }
    specs = [*COMMANDS.values(), *(s for t in ACTIONS.values() for s in t.allowed.values())]
    for spec in specs:
        for opt in spec.all_options():
            if opt.allowed and opt.key in dangerous:
                # the only file option let through is the message file, which the gateway reads itself
                assert opt.key == "file" and spec.name in ("commit", "tag", "merge"), (spec.name, opt.key)
