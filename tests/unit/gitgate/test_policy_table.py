"""The rule table checks itself: every example it shows is refused (or allowed) as it says."""

from __future__ import annotations

import re

import pytest

from agentdock.gitgate.errors import Refused
from agentdock.gitgate.facts import RepoFacts
from agentdock.gitgate.policy import RULES, explain, judge

REFUSALS = [(rule.name, example) for rule in RULES for example in rule.refuses]
ALLOWANCES = [(rule.name, example) for rule in RULES for example in rule.allows]


def test_rule_names_are_unique_and_every_rule_is_explained_with_an_example() -> None:
    names = [rule.name for rule in RULES]
    assert len(names) == len(set(names))
    for rule in RULES:
        assert rule.summary, rule.name
        # execution-time rules are proven by tests/security/gitgate (they need a file system)
        assert rule.refuses or rule.stage == "exec" or rule.name == "unknown-action", rule.name
        assert (rule.check is None) == (rule.stage in ("parse", "exec")), rule.name


@pytest.mark.parametrize(("rule", "example"), REFUSALS, ids=[f"{r}:{e!r}" for r, e in REFUSALS])
def test_each_refusal_example_is_refused_by_its_own_rule(rule: str, example: str, facts: RepoFacts) -> None:
    with pytest.raises(Refused) as info:
        judge(example, facts)
    assert info.value.rule == rule
    assert str(info.value).startswith(f"refused [{rule}]")


@pytest.mark.parametrize(("rule", "example"), ALLOWANCES, ids=[f"{r}:{e!r}" for r, e in ALLOWANCES])
def test_each_allowed_example_passes_the_whole_policy(rule: str, example: str, facts: RepoFacts) -> None:
    assert judge(example, facts)


def test_explain_policy_shows_each_commands_allow_list_and_no_banned_option() -> None:
    text = explain()
    lists = text[text.index("allow-lists:") :]
    assert "git commit: " in lists and "--message=<v>" in lists and "git stash push: " in lists
    for banned in (
        "--output",
        "--no-index",
        "--ext-diff",
        "--contents",
        "--exec=",
        "--upload-pack",
        "--hard",
    ):
        assert not re.search(re.escape(banned) + r"(?![-\w])", lists), banned
    assert "git update-ref [ref-rewrite]" in lists


def test_explain_policy_lists_every_rule_with_its_examples() -> None:
    text = explain()
    for rule in RULES:
        assert f"{rule.name}  [{rule.stage}]" in text
        for example in (*rule.refuses, *rule.allows):
            assert repr(example) in text


@pytest.mark.parametrize(
    "message",
    [
        "push --force to main after reset --hard",
        "clean -fdx; rm -rf / && checkout . | sh",
        "vendor/lib and .agentdock/tokens.json and ../../etc/passwd",
        "-c core.hooksPath=/tmp --git-dir=/x",
        "--force",
        "branch -D feature; filter-branch; :main +main",
    ],
)
def test_words_inside_a_commit_message_never_trigger_a_refusal(message: str, facts: RepoFacts) -> None:
    quoted = "'" + message.replace("'", "'\\''") + "'"
    for command in (
        f"commit -m {quoted}",
        f"commit -am {quoted}",
        f"commit --message={quoted}",
        f"commit -qm {quoted}",
        f"tag -a v9 -m {quoted}",
        f"merge --no-ff feature -m {quoted}",
        f"stash push -m {quoted}",
    ):
        assert judge(command, facts), command


def test_one_refused_step_refuses_the_whole_chain_and_names_the_step(facts: RepoFacts) -> None:
    with pytest.raises(Refused) as info:
        judge("status && add src/app.py && push -f origin main", facts)
    assert info.value.rule == "force-push"
    assert info.value.step == 3
    assert "(step 3)" in str(info.value)


def test_a_chain_of_allowed_steps_yields_one_invocation_per_step(facts: RepoFacts) -> None:
    steps = judge("git add src/ && git commit -m 'x' && git push", facts)
    assert [s.command for s in steps] == ["add", "commit", "push"]
    assert steps[1].argv == ("commit", "-m", "x")


def test_other_agents_folders_are_private_but_the_callers_workspace_is_not(facts: RepoFacts) -> None:
    judge("status -- .claude/users/claude/workspace", facts)
    for command in (
        "status -- .claude/users/qa/workspace",
        "add -f .claude/users/claude/container/x",
        "log -- .claude/users/qa",
    ):
        with pytest.raises(Refused) as info:
            judge(command, facts)
        assert info.value.rule == "protected-path", command


@pytest.mark.parametrize(
    "command", ["commit --mess x", "grep --no-text -e x", "branch --set-upstream origin/main"]
)
def test_abbreviated_long_options_are_refused_because_git_may_read_them_as_another_option(
    command: str, facts: RepoFacts
) -> None:
    with pytest.raises(Refused) as info:
        judge(command, facts)
    assert info.value.rule == "unknown-option"
