from __future__ import annotations

import pytest

from agentdock.gitgate.errors import Refused
from agentdock.gitgate.lexer import MAX_COMMAND_CHARS, MAX_STEPS, split_chain


def test_a_single_command_splits_like_a_posix_shell() -> None:
    assert split_chain("log --format='%h %s' -3") == [["log", "--format=%h %s", "-3"]]


def test_double_ampersand_splits_steps_and_quotes_keep_operators_inside_arguments() -> None:
    steps = split_chain("git add notes/ && git commit -m 'a; b | c && d > e' && git push")
    assert steps == [["git", "add", "notes/"], ["git", "commit", "-m", "a; b | c && d > e"], ["git", "push"]]


@pytest.mark.parametrize(
    "command",
    [
        "status; log",
        "status | cat",
        "status || true",
        "status &",
        "log > out",
        "log < in",
        "(status)",
        "log `id`",
        "log $(id)",
        "log $HOME",
        "log ${HOME}",
        'commit -m "$(id)"',
        'commit -m "`id`"',
        'commit -m "$USER"',
        "log $'x'",
        "status\nlog",
        "status \\\nlog",
        "add *.py",
        "add src/?.py",
        "add [ab].py",
        "add {a,b}.py",
        "add x{1..3}",
        "add ~/x",
        "status # comment",
        "status &&& log",
        "status && | log",
    ],
)
def test_every_other_shell_construct_is_refused_as_shell_syntax(command: str) -> None:
    with pytest.raises(Refused) as info:
        split_chain(command)
    assert info.value.rule == "shell-syntax"
    assert "shell-syntax" in str(info.value)


@pytest.mark.parametrize(
    ("command", "argv"),
    [
        ("commit -m 'costs $5 (or `more`) ; | > *'", ["commit", "-m", "costs $5 (or `more`) ; | > *"]),
        ("add '*.py'", ["add", "*.py"]),
        ("stash show stash@{0}", ["stash", "show", "stash@{0}"]),
        ("log HEAD~1..HEAD", ["log", "HEAD~1..HEAD"]),
        ("commit -m 'fix #12'", ["commit", "-m", "fix #12"]),
        ("commit -m fix#12", ["commit", "-m", "fix#12"]),
        ("commit -m 'line one\nline two'", ["commit", "-m", "line one\nline two"]),
        ('commit -m "it\'s done"', ["commit", "-m", "it's done"]),
        ("commit -m 'price: $ 5'", ["commit", "-m", "price: $ 5"]),
        ("push origin \\-f", ["push", "origin", "-f"]),
    ],
)
def test_quoted_text_is_literal_and_never_expanded(command: str, argv: list[str]) -> None:
    assert split_chain(command) == [argv]


@pytest.mark.parametrize(
    "command", ["commit -m 'open", 'commit -m "open', "", "   ", "status && ", "&& log", "status && && log"]
)
def test_malformed_command_strings_are_refused_as_syntax(command: str) -> None:
    with pytest.raises(Refused) as info:
        split_chain(command)
    assert info.value.rule == "syntax"


@pytest.mark.parametrize("command", ["status\x00", "commit -m 'a\x1b[2J'", "commit -m 'a\u202eb'", "log\x7f"])
def test_control_characters_are_refused_even_inside_quotes(command: str) -> None:
    with pytest.raises(Refused) as info:
        split_chain(command)
    assert info.value.rule == "control-character"


def test_oversized_commands_and_overlong_chains_are_refused() -> None:
    with pytest.raises(Refused, match="limit"):
        split_chain("status " + "x" * MAX_COMMAND_CHARS)
    with pytest.raises(Refused, match="at most"):
        split_chain(" && ".join(["status"] * (MAX_STEPS + 1)))
    assert len(split_chain(" && ".join(["status"] * MAX_STEPS))) == MAX_STEPS
