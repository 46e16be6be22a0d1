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

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass

from agentdock.gitgate.facts import ProtectedPath

__all__ = ["Pathspec", "parse_pathspec", "reaches_protected"]

_WILDCARDS = "*?[\\"
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


def _wildmatch(pattern: str) -> re.Pattern[str]:
    """git's wildmatch without ``WM_PATHNAME`` (``*`` and ``?`` match ``/`` too; ``\\`` escapes)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "[":
            j = i + 1
            if j < len(pattern) and pattern[j] in "!^":
                j += 1
            if j < len(pattern) and pattern[j] == "]":
                j += 1
            while j < len(pattern) and pattern[j] != "]":
                close = pattern.find(":]", j + 2) if pattern.startswith("[:", j) else -1
                j = close + 2 if close >= 0 else j + 1
            if j >= len(pattern):
                out.append(re.escape(char))
            else:
                body = pattern[i + 1 : j]
                negate = body[:1] in ("!", "^")
                body = body[1:] if negate else body
                out.append(
                    "."
                    if "[:" in body or not body
                    else "[" + ("^" if negate else "") + body.replace("\\", "\\\\") + "]"
                )
                i = j + 1
                continue
        else:
            out.append(re.escape(char))
        i += 1
    try:
        return re.compile("".join(out), re.DOTALL | re.IGNORECASE)
    except re.error:
        return re.compile(".*", re.DOTALL)  # a pattern we cannot read is assumed to match everything


def _literal_prefix(pattern: str) -> str:
    for i, char in enumerate(pattern):
        if char in _WILDCARDS:
            return pattern[:i]
    return pattern


def _probe_inside(pattern: str, target: str) -> bool:
    """Whether a wildcard pattern can match something inside ``target`` (a probing heuristic)."""
    prefix = _literal_prefix(pattern).lower()
    if prefix.startswith(target + "/"):
        return True
    if not (target + "/").startswith(prefix) and not prefix.startswith(target):
        return False
    tail = pattern[len(prefix) :]
    probe_tail = "".join("x" if c in "?*" else c for c in tail if c not in "[]\\")
    regex = _wildmatch(pattern)
    probes = [f"{target}/{probe_tail}", f"{target}/x/{probe_tail}", f"{target}/x"]
    return any(regex.fullmatch(p) for p in probes)


def _reaches(spec: Pathspec, entry: ProtectedPath, ancestors: bool) -> bool:
    """Compared case-insensitively always: on a case-insensitive file system git does too."""
    assert spec.path is not None
    path = spec.path.rstrip("/")
    target = entry.path.lower()
    if spec.wildcard:
        if _wildmatch(path).fullmatch(target):
            return True
        if entry.kind == "protected" or ancestors:
            return _probe_inside(path, target)
        return False
    path = path.lower()
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
        if spec.path.lower() in ("", entry.path.lower())
        or entry.path.lower().startswith(spec.path.lower() + "/")
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
