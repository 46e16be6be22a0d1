from __future__ import annotations

import pytest

from agentdock.gitgate.facts import ProtectedPath
from agentdock.gitgate.pathspec import parse_pathspec, reaches_protected

ROOT = "/repo"
SUB = ProtectedPath("vendor/lib", "submodule")
QMS = ProtectedPath("QMS", "protected")
PRIVATE = ProtectedPath(".agentdock", "private")


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
        (":(exclude,icase)Vendor", "", "Vendor", {"exclude", "icase"}),
        (":(attr:binary)x", "", "x", {"attr"}),
        ("::odd", "", "odd", set()),
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


def test_literal_pathspecs_turn_magic_and_wildcards_off() -> None:
    spec = parse_pathspec(":(top)*", "", ROOT, literal=True)
    assert spec.path == ":(top)*" and not spec.wildcard and spec.magic == frozenset()


@pytest.mark.parametrize(
    "raw", ["vendor/lib", "vendor/lib/", "vendor/lib/x.c", "vendor/l*", "*/lib", "vendor/li?", "v*", "*"]
)
def test_naming_or_matching_a_submodule_reaches_it(raw: str) -> None:
    assert reaches_protected([parse_pathspec(raw, "", ROOT)], [SUB]) is not None


@pytest.mark.parametrize("raw", ["vendor", ".", "src/*.py", "*.py", "vendor/other", "vendor/libx"])
def test_ancestors_and_unrelated_patterns_do_not_reach_a_submodule_for_ordinary_commands(raw: str) -> None:
    assert reaches_protected([parse_pathspec(raw, "", ROOT)], [SUB]) is None


@pytest.mark.parametrize("raw", ["vendor", ".", ":/"])
def test_ancestors_reach_protected_paths_for_recursive_commands(raw: str) -> None:
    assert reaches_protected([parse_pathspec(raw, "", ROOT)], [SUB], ancestors=True) is not None


def test_patterns_reach_inside_protected_directories_but_not_inside_submodules() -> None:
    assert reaches_protected([parse_pathspec("*.md", "", ROOT)], [QMS]) is not None
    assert reaches_protected([parse_pathspec("*.md", "", ROOT)], [SUB, PRIVATE]) is None


@pytest.mark.parametrize("raw", [":(icase)VENDOR/LIB", "VENDOR/LIB", "Vendor/L*"])
def test_protected_paths_are_compared_case_insensitively_as_on_case_insensitive_file_systems(
    raw: str,
) -> None:
    assert reaches_protected([parse_pathspec(raw, "", ROOT)], [SUB]) is not None


@pytest.mark.parametrize(
    "raw", ["vendor/li\\b", "vendor/[l]ib", "vendor/[!x]ib", "vendor/[[:alpha:]]ib", "vendor/li[b"]
)
def test_backslash_escapes_and_bracket_classes_are_wildcards_as_in_git(raw: str) -> None:
    spec = parse_pathspec(raw, "", ROOT)
    assert spec.wildcard
    expected = raw != "vendor/li[b"  # an unterminated bracket is a literal '[' in git
    assert (reaches_protected([spec], [SUB]) is not None) is expected


def test_an_exclude_pathspec_takes_the_protected_path_out_of_a_wildcard() -> None:
    specs = [parse_pathspec("*", "", ROOT), parse_pathspec(":!vendor/lib", "", ROOT)]
    assert reaches_protected(specs, [SUB]) is None
    assert reaches_protected(specs[:1], [SUB]) is not None
