from __future__ import annotations

import pytest

from agentdock.gitgate.commands import COMMANDS
from agentdock.gitgate.errors import Refused
from agentdock.gitgate.invocation import parse_invocation
from agentdock.gitgate.options import parse_args


def _keys(command: str, *args: str) -> list[tuple[str, str | None, bool]]:
    parsed = parse_args(COMMANDS[command], args)
    return [(u.key, u.value, u.negated) for u in parsed.uses]


def test_bundled_short_flags_are_each_recorded() -> None:
    assert _keys("clean", "-xdf") == [("x", None, False), ("d", None, False), ("force", None, False)]


def test_a_value_glued_to_a_short_option_ends_the_bundle() -> None:
    assert _keys("commit", "-amfix -f") == [("all", None, False), ("message", "fix -f", False)]


def test_a_value_that_looks_like_an_option_is_still_a_value() -> None:
    parsed = parse_args(COMMANDS["commit"], ["-m", "--force", "--amend"])
    assert [(u.key, u.value) for u in parsed.uses] == [("message", "--force"), ("amend", None)]
    assert parsed.positionals == ()


def test_unique_abbreviations_resolve_to_the_long_option() -> None:
    assert _keys("push", "--force-w") == [("force-with-lease", None, False)]
    assert _keys("reset", "--har") == [("hard", None, False)]


def test_ambiguous_abbreviations_count_as_every_option_they_could_mean() -> None:
    parsed = parse_args(COMMANDS["push"], ["--forc"])
    assert {u.key for u in parsed.uses} == {"force", "force-with-lease", "force-if-includes"}
    assert all(u.ambiguous for u in parsed.uses)
    assert parsed.has("force")


def test_negated_options_are_not_uses_of_the_option() -> None:
    parsed = parse_args(COMMANDS["push"], ["--no-force-with-lease"])
    assert not parsed.has("force-with-lease")
    assert parsed.uses[0].negated


def test_double_dash_and_end_of_options_make_later_words_positional() -> None:
    parsed = parse_args(COMMANDS["checkout"], ["main", "--", "-f", "src"])
    assert parsed.positionals == ("main", "-f", "src") and parsed.dashdash == 1
    parsed = parse_args(COMMANDS["push"], ["--end-of-options", "origin", "-f"])
    assert parsed.positionals == ("origin", "-f") and parsed.uses == ()


def test_required_values_are_taken_from_the_next_word_and_optional_ones_only_when_attached() -> None:
    assert _keys("checkout", "-b", "topic") == [("b", "topic", False)]
    parsed = parse_args(COMMANDS["commit"], ["-S", "README.md"])
    assert parsed.uses[0].value is None and parsed.positionals == ("README.md",)


def test_options_missing_from_the_allow_list_are_recorded_as_unknown_for_every_command() -> None:
    for command, args in (("push", ["--frobnicate"]), ("clean", ["-fZ"]), ("log", ["--frobnicate"])):
        parsed = parse_args(COMMANDS[command], args)
        assert parsed.unknown() is not None, (command, args)
    assert parse_args(COMMANDS["clean"], ["-fZ"]).unknown().spelled == "-fZ"  # type: ignore[union-attr]


def test_known_but_banned_options_are_parsed_with_their_arity_and_still_unknown() -> None:
    parsed = parse_args(COMMANDS["diff"], ["--output", "x", "README.md"])
    assert parsed.unknown() is not None and parsed.unknown().key == "output"  # type: ignore[union-attr]
    assert parsed.positionals == ("README.md",)


def test_negations_are_allowed_only_where_declared() -> None:
    assert parse_args(COMMANDS["merge"], ["--no-ff"]).unknown() is None
    assert parse_args(COMMANDS["grep"], ["--no-exclude-standard"]).unknown() is not None
    assert parse_args(COMMANDS["log"], ["--no-follow"]).unknown() is not None


def test_listed_options_pass_and_numbers_mean_max_count() -> None:
    parsed = parse_args(COMMANDS["log"], ["--no-merges", "-5", "src"])
    assert [u.key for u in parsed.uses] == ["no-merges", "max-count"]
    assert parsed.unknown() is None and parsed.positionals == ("src",)


def test_non_ascii_option_spellings_are_refused_as_look_alikes() -> None:
    with pytest.raises(Refused) as info:
        parse_args(COMMANDS["push"], ["--for\u0441e"])
    assert info.value.rule == "unicode-lookalike"


def test_global_options_are_read_with_gits_own_grammar() -> None:
    inv = parse_invocation(["git", "-C", "src", "-c", "color.ui=never", "--no-pager", "log", "-1"])
    assert inv.globals == (("-C", "src"), ("-c", "color.ui=never"), ("--no-pager", None))
    assert inv.command == "log" and inv.argv[0] == "-C"
    inv = parse_invocation(["--git-dir", "/x", "status"])
    assert inv.global_values("--git-dir") == ["/x"] and inv.command == "status"


@pytest.mark.parametrize(
    ("words", "rule"),
    [
        (["-Csrc", "status"], "global-option"),
        (["--git-di=/x", "status"], "global-option"),
        (["GIT_DIR=/x", "git", "status"], "environment"),
        (["st"], "unknown-subcommand"),
        (["stat\u0075\u0455"], "unicode-lookalike"),
        (["git"], "syntax"),
    ],
)
def test_invocations_git_would_read_differently_are_refused(words: list[str], rule: str) -> None:
    with pytest.raises(Refused) as info:
        parse_invocation(words)
    assert info.value.rule == rule


def test_actions_not_on_the_list_are_marked_for_their_parents_rule() -> None:
    for words in (
        ["stash", "frobnicate"],
        ["stash", "drop"],
        ["remote", "add", "x", "y"],
        ["worktree", "add", "x"],
    ):
        inv = parse_invocation(words)
        assert not inv.action_listed and inv.action == words[1]
    assert parse_invocation(["reflog", "HEAD"]).action == "show"


def test_stash_actions_choose_their_own_option_tables() -> None:
    assert parse_invocation(["stash"]).action == "push"
    assert parse_invocation(["stash", "-u"]).action == "push"
    inv = parse_invocation(["stash", "pop", "--index"])
    assert inv.action == "pop" and inv.args.has("index")
