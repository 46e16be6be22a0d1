from __future__ import annotations

import pytest

from agentdock.gitgate.errors import Refused
from agentdock.gitgate.facts import ProtectedPath
from agentdock.gitgate.pathspec import parse_pathspec, reaches

ROOT = "/repo"
SUB = ProtectedPath("vendor/lib", "submodule")
QMS = ProtectedPath("QMS", "qms", readable=True)
PRIVATE = ProtectedPath(".agentdock", "private")
CLAUDE = ProtectedPath(
    ".claude", "claude", readable=True, holes=(".claude/sessions/me", ".claude/users/me/workspace")
)


def _reach(
    raw: str, zones: list[ProtectedPath], *, ancestors: bool = False, folds: bool = False
) -> list[str]:
    return [
        r.how for r in reaches([parse_pathspec(raw, "", ROOT)], zones, ancestors=ancestors, fs_folds=folds)
    ]


@pytest.mark.parametrize(
    ("raw", "cwd", "path", "magic"),
    [
        ("src/app.py", "", "src/app.py", set()),
        ("app.py", "src", "src/app.py", set()),
        ("../README.md", "src", "README.md", set()),
        (":(top)vendor/lib", "src", "vendor/lib", {"top"}),
        (":/vendor", "src", "vendor", {"top"}),
        (":!vendor", "", "vendor", {"exclude"}),
        (":^vendor", "", "vendor", {"exclude"}),
        (":!/vendor", "", "vendor", {"exclude", "top"}),
        (":(exclude,icase)Vendor", "", "Vendor", {"exclude", "icase"}),
        (":(attr:binary)x", "", "x", {"attr"}),
        ("::odd", "", "odd", set()),
        (":x", "", "x", set()),
        ("/repo/src", "", "src", set()),
        (".", "", "", set()),
        ("..", "", None, set()),
        ("/etc/passwd", "", None, set()),
    ],
)
def test_pathspecs_resolve_with_gits_magic(raw: str, cwd: str, path: str | None, magic: set[str]) -> None:
    spec = parse_pathspec(raw, cwd, ROOT)
    assert spec.path == path
    assert spec.magic == magic


@pytest.mark.parametrize("raw", [":(prefix:0)x", ":(nosuch)x", ":-x", ":#x", ":(top"])
def test_magic_git_would_not_accept_is_refused(raw: str) -> None:
    with pytest.raises(Refused) as info:
        parse_pathspec(raw, "", ROOT)
    assert info.value.rule == "pathspec-magic"


def test_literal_pathspecs_turn_magic_and_wildcards_off() -> None:
    spec = parse_pathspec(":(top)*", "", ROOT, literal=True)
    assert spec.path == ":(top)*" and not spec.wildcard and spec.magic == frozenset()


def test_noglob_keeps_magic_but_turns_wildcards_off() -> None:
    spec = parse_pathspec(":(top)src/*", "", ROOT, noglob=True)
    assert spec.path == "src/*" and not spec.wildcard and "top" in spec.magic


@pytest.mark.parametrize("raw", ["vendor/lib", "vendor/lib/", "vendor/lib/x.c", "vendor/lib/*.c"])
def test_naming_something_inside_a_zone_reaches_it(raw: str) -> None:
    assert _reach(raw, [SUB]) == ["inside"]


@pytest.mark.parametrize("raw", ["vendor", ".", "src/*.py", "*.py", "vendor/other", "vendor/libx", "v*"])
def test_ancestors_and_patterns_do_not_reach_a_zone_for_readers(raw: str) -> None:
    assert _reach(raw, [SUB]) == []


@pytest.mark.parametrize(
    ("raw", "how"),
    [("vendor", "ancestor"), (".", "ancestor"), (":/", "ancestor"), ("v*", "pattern"), ("*", "pattern")],
)
def test_ancestors_and_patterns_reach_a_zone_for_writers(raw: str, how: str) -> None:
    assert _reach(raw, [SUB], ancestors=True) == [how]


@pytest.mark.parametrize("raw", ["qms/x", "Qms", "VENDOR/LIB", ".CLAUDE/agents/qa.md"])
def test_comparisons_are_exact_on_a_case_sensitive_file_system(raw: str) -> None:
    assert _reach(raw, [QMS, SUB, CLAUDE], ancestors=True) == []
    assert _reach(raw, [QMS, SUB, CLAUDE], ancestors=True, folds=True) == ["inside"]


def test_icase_magic_folds_the_comparison() -> None:
    assert _reach(":(icase)qms/x", [QMS]) == ["inside"]


def test_holes_are_not_part_of_their_zone_but_their_neighbours_are() -> None:
    assert _reach(".claude/sessions/me/notes.md", [CLAUDE]) == []
    assert _reach(".claude/sessions/qa/notes.md", [CLAUDE]) != []  # another agent's notes
    assert _reach(".claude/users/me/workspace/x", [CLAUDE]) == []
    assert _reach(".claude/users/me/inbox/x", [CLAUDE]) == ["inside"]
    assert _reach(".claude/users/me/work*", [CLAUDE]) == ["inside"]
    assert _reach(".claude/agents/qa.md", [CLAUDE]) == ["inside"]


def test_an_agents_own_exclusion_never_vouches_for_a_zone() -> None:
    specs = [parse_pathspec("*", "", ROOT), parse_pathspec(":!vendor/lib", "", ROOT)]
    assert [r.how for r in reaches(specs, [SUB], ancestors=True)] == ["pattern"]
    caseless = [parse_pathspec(".", "", ROOT), parse_pathspec(":!.CLAUDE/USERS/QA", "", ROOT)]
    assert [r.zone.path for r in reaches(caseless, [CLAUDE], ancestors=True)] == [".claude"]
