"""Pathspecs as git reads them, and whether one reaches a protected path.

Git pathspecs carry *magic*: ``:(top)x`` / ``:/x`` (from the repository
top), ``:(exclude)x`` / ``:!x`` / ``:^x``, ``:(icase)``, ``:(literal)``,
``:(glob)``, ``:(attr:…)``; without ``literal`` magic, ``*``, ``?`` and
``[`` are wildcards that also match ``/``.  A pathspec is resolved against
the directory git runs in (after ``-C``), lexically, the way git does.

*Reaching* a protected path P means: naming P, naming something inside P,
or a wildcard that can match P (or, for ``--protect`` paths, something inside
it: git sees a submodule as one entry).  For commands that act recursively on a directory and
everything below (``rm -r``, ``mv``, ``add --force``) naming an *ancestor* of
P (``.``, ``:/``) reaches it too.  An ``:(exclude)`` pathspec never reaches
anything, and one that covers P removes P from consideration for the other
pathspecs of the same command.
"""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass

from agentdock.gitgate.facts import ProtectedPath

__all__ = ["Pathspec", "parse_pathspec", "reaches_protected"]

_WILDCARDS = "*?["
_SHORT_MAGIC = {"/": "top", "!": "exclude", "^": "exclude"}


@dataclass(frozen=True)
class Pathspec:
    raw: str
    path: str | None  #: posix path relative to the project root ("" is the root); None when outside
    magic: frozenset[str]
    wildcard: bool
    base: str = ""  #: the directory relative pathspecs were resolved from

    @property
    def exclude(self) -> bool:
        return "exclude" in self.magic

    @property
    def icase(self) -> bool:
        return "icase" in self.magic


def _split_magic(raw: str) -> tuple[frozenset[str], str]:
    if not raw.startswith(":"):
        return frozenset(), raw
    if raw.startswith(":("):
        end = raw.find(")")
        if end < 0:
            return frozenset({"invalid"}), raw
        words = {w.strip().split(":", 1)[0] for w in raw[2:end].split(",") if w.strip()}
        return frozenset(words), raw[end + 1 :]
    magic: set[str] = set()
    i = 1
    while i < len(raw) and raw[i] in _SHORT_MAGIC:
        magic.add(_SHORT_MAGIC[raw[i]])
        i += 1
    if i < len(raw) and raw[i] == ":":
        i += 1
    return frozenset(magic), raw[i:]


def parse_pathspec(raw: str, cwd: str, root: str, *, literal: bool = False, icase: bool = False) -> Pathspec:
    """Resolve ``raw`` as git would from ``cwd`` (posix, relative to ``root``, the absolute root)."""
    magic, rest = (frozenset(), raw) if literal else _split_magic(raw)
    if icase:
        magic = magic | {"icase"}
    base = "" if "top" in magic else cwd
    if rest.startswith("/"):
        joined = posixpath.relpath(posixpath.normpath(rest), root)
    else:
        joined = posixpath.join(base, rest) if base else rest
    path: str | None = posixpath.normpath(joined) if joined else ""
    if path == ".":
        path = ""
    if path is not None and (path == ".." or path.startswith("../")):
        path = None
    wildcard = not literal and "literal" not in magic and any(c in rest for c in _WILDCARDS)
    return Pathspec(raw=raw, path=path, magic=magic, wildcard=wildcard, base=cwd)


def _fold(text: str, icase: bool) -> str:
    return text.lower() if icase else text


def _probe_inside(pattern: str, target: str) -> bool:
    """Whether a wildcard pattern can match something inside ``target`` (a heuristic probe)."""
    literal_prefix = pattern
    for i, char in enumerate(pattern):
        if char in _WILDCARDS:
            literal_prefix = pattern[:i]
            break
    if literal_prefix.startswith(target + "/"):
        return True
    if not (target + "/").startswith(literal_prefix) and not literal_prefix.startswith(target):
        return False
    tail = pattern[len(literal_prefix) :]
    probe_tail = "".join("x" if c in "?*" else c for c in tail.replace("[", "").replace("]", ""))
    probes = [f"{target}/{probe_tail}", f"{target}/x/{probe_tail}", f"{target}/x"]
    return any(fnmatch.fnmatchcase(p, pattern) for p in probes)


def _reaches(spec: Pathspec, entry: ProtectedPath, ancestors: bool) -> bool:
    assert spec.path is not None
    icase = spec.icase
    path = _fold(spec.path.rstrip("/"), icase)
    target = _fold(entry.path, icase)
    if spec.wildcard:
        if fnmatch.fnmatchcase(target, path):
            return True
        if entry.kind == "protected" or ancestors:
            return _probe_inside(path, target)
        return False
    if path == target or path.startswith(target + "/"):
        return True
    return ancestors and (path == "" or target.startswith(path + "/"))


def reaches_protected(
    specs: Iterable[Pathspec], protected: Iterable[ProtectedPath], *, ancestors: bool = False
) -> tuple[Pathspec, ProtectedPath] | None:
    """The first (pathspec, protected path) pair where one reaches the other, else None."""
    specs = list(specs)
    protected = tuple(protected)
    if specs and all(spec.exclude for spec in specs):
        # git reads "only exclusions" as "everything in the current directory except them"
        here = specs[0].base
        specs.append(Pathspec(raw=f"(implicit {here or '.'})", path=here, magic=frozenset(), wildcard=False))
    excluded = {
        entry.path
        for spec in specs
        if spec.exclude and spec.path is not None and not spec.wildcard
        for entry in protected
        if spec.path in ("", entry.path) or entry.path.startswith(spec.path + "/")
    }
    for spec in specs:
        if spec.exclude or spec.path is None:
            continue
        for entry in protected:
            if entry.path in excluded:
                continue
            if _reaches(spec, entry, ancestors):
                return spec, entry
    return None
