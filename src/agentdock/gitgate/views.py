"""Derived views of an invocation the rules share: where git runs, which words are pathspecs, refspecs.

Kept apart from the rule table so each rule reads as one line of intent.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
from dataclasses import dataclass
from pathlib import Path

from agentdock.gitgate.errors import Refused
from agentdock.gitgate.facts import RepoFacts
from agentdock.gitgate.invocation import Invocation
from agentdock.gitgate.pathspec import Pathspec, parse_pathspec

__all__ = [
    "Location",
    "Refspec",
    "branch_name",
    "location",
    "matches_branch",
    "pathspecs",
    "push_target",
    "refspec",
    "resolve_file",
]


#: How often a path whose links change while it is being resolved is resolved again.
REALPATH_TRIES = 3


def settled_realpath(path: str | Path) -> str:
    """``os.path.realpath``, tolerating a link swapped while it runs (Python's non-strict realpath
    raises when a component vanishes between its ``lstat`` and ``readlink``); a path that keeps
    changing is refused, never an unhandled error."""
    for _ in range(REALPATH_TRIES):
        try:
            return os.path.realpath(path)
        except OSError:
            continue
    raise Refused("outside-project", f"{path} keeps changing while it is checked (a link being swapped?)")


@dataclass(frozen=True)
class Location:
    lexical: str | None  #: posix path of git's working directory relative to the root; None if outside
    real: Path  #: the same directory with symlinks resolved


def location(inv: Invocation, facts: RepoFacts) -> Location:
    """The directory git will run in after every ``-C``."""
    current = str(facts.root)
    for value in inv.global_values("-C"):
        if value:
            current = os.path.normpath(os.path.join(current, value))
    rel = os.path.relpath(current, facts.root)
    lexical: str | None = "" if rel == "." else Path(rel).as_posix()
    if lexical is not None and (lexical == ".." or lexical.startswith("../")):
        lexical = None
    return Location(lexical=lexical, real=Path(settled_realpath(current)))


def pathspecs(inv: Invocation, facts: RepoFacts) -> list[Pathspec]:
    """The positionals git may read as pathspecs (revisions too, when git cannot tell yet)."""
    kind = inv.spec.paths
    words = list(inv.args.positionals)
    if kind == "other":
        return []
    pattern_first = kind == "pattern-revs-paths" and not inv.args.has("e", "f")
    if pattern_first and words and inv.args.dashdash != 0:
        words = words[1:]
    here = location(inv, facts).lexical or ""
    literal = inv.has_global("--literal-pathspecs")
    return [
        parse_pathspec(
            w,
            here,
            str(facts.root),
            literal=literal,
            icase=inv.has_global("--icase-pathspecs"),
            glob=inv.has_global("--glob-pathspecs"),
            noglob=inv.has_global("--noglob-pathspecs"),
        )
        for w in words
    ]


def resolve_file(value: str, inv: Invocation, facts: RepoFacts) -> Pathspec:
    """A file named by an option value, as a literal path relative to the root (symlinks resolved)."""
    base = location(inv, facts).real
    real = settled_realpath(os.path.join(base, value))
    rel = os.path.relpath(real, facts.root)
    path: str | None = "" if rel == "." else Path(rel).as_posix()
    if path is not None and (path == ".." or path.startswith("../")):
        path = None
    return Pathspec(raw=value, path=path, magic=frozenset(), wildcard=False)


@dataclass(frozen=True)
class Refspec:
    raw: str
    force: bool
    src: str
    dst: str | None  #: None when there is no ':'
    negative: bool

    @property
    def deletes(self) -> bool:
        return self.src == "" and bool(self.dst)


def refspec(raw: str) -> Refspec:
    force = raw.startswith("+")
    body = raw[1:] if force else raw
    negative = body.startswith("^")
    src, colon, dst = body.partition(":")
    return Refspec(raw=raw, force=force, src=src, dst=dst if colon else None, negative=negative)


def branch_name(ref: str) -> str:
    """``refs/heads/main`` / ``heads/main`` / ``main`` -> ``main``."""
    for prefix in ("refs/heads/", "heads/"):
        if ref.startswith(prefix):
            return ref[len(prefix) :]
    return ref


def matches_branch(ref: str, facts: RepoFacts) -> str | None:
    name = branch_name(ref)
    for pattern in facts.protected_branches:
        if posixpath.normpath(name) == pattern or (
            any(c in pattern for c in "*?[") and fnmatch.fnmatchcase(name, pattern)
        ):
            return pattern
    return None


def push_target(inv: Invocation) -> tuple[list[str], list[str]]:
    """(repositories named, refspecs) of push/fetch/pull/ls-remote; ``--repo=`` names one too."""
    words = list(inv.args.positionals)
    repos = list(inv.args.values("repo"))
    if inv.args.has("multiple") or (inv.command == "fetch" and inv.args.has("all")):
        return repos + words, []
    if not words:
        return repos, []
    return [*repos, words[0]], words[1:]
