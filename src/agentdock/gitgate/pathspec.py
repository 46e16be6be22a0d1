"""Pathspecs as git reads them, and whether one reaches a protected zone.

Parsing follows git's ``pathspec.c``:

* with ``--literal-pathspecs`` nothing is magic and nothing is a wildcard;
* ``:(word,word…)rest`` — long magic: ``top``, ``literal``, ``glob``, ``icase``, ``exclude``,
  ``attr:…``; any other word (``prefix:`` included) is refused, as git would die on it;
* ``:<chars>[:]rest`` — short magic: ``/`` (top), ``!`` and ``^`` (exclude); another
  punctuation character there is "unimplemented magic" to git and refused here;
* ``--glob-pathspecs`` / ``--noglob-pathspecs`` / ``--icase-pathspecs`` add their magic
  to every pathspec; ``GIT_*_PATHSPECS`` never reach git (fixed environment).

Without ``literal`` magic, ``*``, ``?``, ``[`` and ``\\`` make a pathspec a pattern.

*Reaching* zone Z: naming Z or something inside it (outside Z's holes); a pattern whose
literal prefix lies inside Z; for writers, naming an ancestor of Z (``.``, ``:/``, ``src/..``)
or a pattern whose literal prefix could lead into Z.  Comparisons are exact, case-sensitive —
as git compares them — unless the pathspec has ``icase`` magic or the file system folds case.
An agent's own ``:(exclude)`` never vouches for anything: the gateway adds its own
exclusions where it lets a broad command through (:mod:`agentdock.gitgate.scope`).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from dataclasses import dataclass

from agentdock.gitgate.errors import Refused
from agentdock.gitgate.facts import ProtectedPath

__all__ = ["Pathspec", "Reach", "literal_prefix", "parse_pathspec", "reaches", "within"]

_WILDCARDS = "*?[\\"
_SHORT_MAGIC = {"/": "top", "!": "exclude", "^": "exclude"}
#: punctuation git treats as (possibly unimplemented) short magic right after ':'
_GIT_MAGIC_CHARS = set("!\"#%&',-;<=>@_`~/^")
_LONG_MAGIC = {"top", "literal", "glob", "icase", "exclude", "attr"}


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


def _bad_magic(raw: str, why: str) -> Refused:
    return Refused("pathspec-magic", f"pathspec {raw!r}: {why}")


def _split_magic(raw: str) -> tuple[frozenset[str], str]:
    if not raw.startswith(":"):
        return frozenset(), raw
    if raw.startswith(":("):
        end = raw.find(")")
        if end < 0:
            raise _bad_magic(raw, "missing ')' at the end of the pathspec magic")
        words: set[str] = set()
        for word in raw[2:end].split(","):
            name = word.strip().split(":", 1)[0]
            if not name:
                continue
            if name not in _LONG_MAGIC:
                raise _bad_magic(raw, f"pathspec magic {name!r} is not one the gateway accepts")
            words.add(name)
        return frozenset(words), raw[end + 1 :]
    magic: set[str] = set()
    i = 1
    while i < len(raw) and raw[i] != ":":
        char = raw[i]
        if char in _SHORT_MAGIC:
            magic.add(_SHORT_MAGIC[char])
        elif char in _GIT_MAGIC_CHARS:
            raise _bad_magic(raw, f"short pathspec magic {char!r} is not one the gateway accepts")
        else:
            break
        i += 1
    if i < len(raw) and raw[i] == ":":
        i += 1
    return frozenset(magic), raw[i:]


def parse_pathspec(
    raw: str,
    cwd: str,
    root: str,
    *,
    literal: bool = False,
    icase: bool = False,
    glob: bool = False,
    noglob: bool = False,
) -> Pathspec:
    """Resolve ``raw`` as git would from ``cwd`` (posix, relative to ``root``, the absolute root)."""
    magic, rest = (frozenset(), raw) if literal else _split_magic(raw)
    if icase:
        magic = magic | {"icase"}
    if glob and "literal" not in magic:
        magic = magic | {"glob"}
    if noglob and "glob" not in magic:
        magic = magic | {"literal"}
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


def literal_prefix(path: str) -> str:
    """The part of a pattern before its first wildcard character."""
    for i, char in enumerate(path):
        if char in _WILDCARDS:
            return path[:i]
    return path


def within(path: str, folder: str, *, fold: bool) -> bool:
    """``path`` is ``folder`` or below it (exact, or case-folded when ``fold``)."""
    if fold:
        path, folder = path.casefold(), folder.casefold()
    return folder in ("", path) or path.startswith(folder + "/")


@dataclass(frozen=True)
class Reach:
    spec: Pathspec
    zone: ProtectedPath
    how: str  #: "inside" (names it or something in it), "ancestor" (contains it), "pattern"

    def describe(self) -> str:
        verb = {"inside": "names", "ancestor": "contains", "pattern": "can match"}[self.how]
        return f"pathspec {self.spec.raw!r} {verb} the {self.zone.describe()}"


def _in_hole(path: str, zone: ProtectedPath, fold: bool) -> bool:
    return any(within(path, hole, fold=fold) for hole in zone.holes)


def _reach(spec: Pathspec, zone: ProtectedPath, fs_folds: bool, *, ancestors: bool) -> str | None:
    assert spec.path is not None
    fold = fs_folds or spec.icase
    path = spec.path.rstrip("/")
    if spec.wildcard:
        prefix = literal_prefix(path)
        if within(prefix, zone.path, fold=fold):
            return None if _in_hole(prefix, zone, fold) else "inside"
        lead = zone.path + "/"
        if (lead.casefold() if fold else lead).startswith(prefix.casefold() if fold else prefix):
            return "pattern" if ancestors else None
        return None
    if within(path, zone.path, fold=fold):
        return None if _in_hole(path, zone, fold) else "inside"
    if ancestors and within(zone.path, path, fold=fold):
        return "ancestor"
    return None


def reaches(
    specs: Iterable[Pathspec],
    zones: Iterable[ProtectedPath],
    *,
    ancestors: bool,
    fs_folds: bool = False,
) -> list[Reach]:
    """Every (pathspec, zone) pair where the (non-exclude) pathspec reaches the zone."""
    found: list[Reach] = []
    zones = tuple(zones)
    for spec in specs:
        if spec.exclude or spec.path is None:
            continue
        for zone in zones:
            how = _reach(spec, zone, fs_folds, ancestors=ancestors)
            if how is not None:
                found.append(Reach(spec, zone, how))
    return found
