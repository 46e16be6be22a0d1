"""The last look before a step runs: every path git will open, walked with ``lstat`` now.

The policy judges the command as text; this module judges the file system at the moment of
use, immediately before each step starts (after the steps before it ran):

* every pathspec (the literal part of a pattern), every positional path and every file named by
  an option is walked component by component from the project root with ``lstat``: a symbolic
  link anywhere below the root, or a path that leaves the root, refuses the step (rule
  ``symlink`` / ``outside-project``).  With no link on the way, the path git opens is the path
  the policy judged, so the zone checks made on the text hold for the file system too;
* a file named by an option (``commit -F``, ``tag -F``, ``merge -F``) is opened by the gateway
  itself — ``O_NOFOLLOW``, a regular file with one link, at most :data:`MAX_FILE_BYTES` — and
  its text is handed to git as ``-m <text>``: git never opens the caller's path, so there is
  nothing to swap between this check and git's use.  Every other file-valued option is refused
  by the grammar (``blame --contents``, ``-S``, ``--ignore-revs-file``, ``diff -O``, ``grep -f``…);
* ``mv`` and ``rm`` (without ``--cached``) of a path in a folder agents can change from their
  containers (their workspace, ``.claude/sessions/<agent>``) are refused (rule ``agent-writable``): such a
  folder can be swapped for a link after any check, and those two commands write through it;
  the agent can move or delete its own files there directly.

What remains racy — a whole-tree step (``switch``, ``merge``, ``stash``…) writing a file in an
agent-writable folder while the agent swaps a parent folder for a link — is git's own
leading-symlink check's business, and the kernel sandbox's (see docs/security/git-gateway.md).
"""

from __future__ import annotations

import dataclasses
import errno
import os
import posixpath
import stat
from collections.abc import Callable, Sequence
from pathlib import Path

from agentdock.gitgate.argvedit import edit_options
from agentdock.gitgate.errors import Refused
from agentdock.gitgate.facts import RepoFacts
from agentdock.gitgate.invocation import Invocation
from agentdock.gitgate.pathspec import literal_prefix, within
from agentdock.gitgate.views import pathspecs

__all__ = ["MAX_FILE_BYTES", "MAX_PICKED_COMMITS", "GitReader", "confine", "read_option_file", "walk"]

MAX_FILE_BYTES = 64 * 1024
#: ``revert``/``cherry-pick`` of more commits than this is refused (each one is inspected)
MAX_PICKED_COMMITS = 200

#: runs a read-only git query (argv after ``git``) in the project, returns stdout ("" on failure)
GitReader = Callable[[Sequence[str]], str]


def walk(root: Path, rel: str) -> None:
    """``lstat`` each component of ``rel`` below ``root``; Refused on a link or a non-folder parent.

    A component that does not exist ends the walk: git cannot follow what is not there.
    """
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise Refused("outside-project", f"{rel!r} climbs with '..' (resolved lexically it is checked again)")
    current = root
    for index, part in enumerate(parts):
        current = current / part
        try:
            info = os.lstat(current)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise Refused("symlink", f"cannot inspect {rel!r}: {exc.strerror}") from exc
        if stat.S_ISLNK(info.st_mode):
            shown = "/".join(parts[: index + 1])
            raise Refused(
                "symlink",
                f"{shown!r} is a symbolic link; the gateway does not let git follow links below the project root",
            )
        if index < len(parts) - 1 and not stat.S_ISDIR(info.st_mode):
            return


def read_option_file(root: Path, rel: str) -> str:
    """The text of ``rel`` (walked, opened ``O_NOFOLLOW``, regular, one link, bounded)."""
    walk(root, rel)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(root / rel, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise Refused("symlink", f"{rel!r} is a symbolic link") from exc
        raise Refused("option-file", f"cannot open {rel!r}: {exc.strerror}") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Refused("option-file", f"{rel!r} is not a regular file")
        if info.st_nlink != 1:
            raise Refused("option-file", f"{rel!r} has {info.st_nlink} hard links; copy it first")
        if info.st_size > MAX_FILE_BYTES:
            raise Refused("option-file", f"{rel!r} is {info.st_size} bytes; the limit is {MAX_FILE_BYTES}")
        data = os.read(fd, MAX_FILE_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        raise Refused("option-file", f"{rel!r} is larger than {MAX_FILE_BYTES} bytes")
    if b"\0" in data:
        raise Refused("option-file", f"{rel!r} contains NUL bytes")
    return os.fsdecode(data)


def _relative(root: Path, value: str) -> str:
    joined = posixpath.normpath(posixpath.join(root.as_posix(), value))
    rel = posixpath.relpath(joined, root.as_posix())
    if rel == ".." or rel.startswith("../"):
        raise Refused("outside-project", f"{value!r} is outside the project root")
    return "" if rel == "." else rel


def _inline_files(inv: Invocation, facts: RepoFacts) -> Invocation:
    files = [u for u in inv.args.uses if u.is_file and not u.negated and u.value not in (None, "-")]
    if not files:
        return inv
    if inv.args.has("message", "m"):
        raise Refused("option-file", "give the message either with -m or with -F, not both")
    texts = {u.value: read_option_file(facts.root, _relative(facts.root, u.value or "")) for u in files}

    def edit(opt: object, value: str | None) -> list[str] | None:
        key = getattr(opt, "key", "")
        if key == "file" and value in texts:
            return ["-m", texts[value]]
        return None

    return dataclasses.replace(inv, argv=tuple(edit_options(inv, edit)))


def _writes_through(inv: Invocation) -> bool:
    return inv.command == "mv" or (inv.command == "rm" and not inv.args.has("cached"))


_PICK_CONTROL = ("continue", "abort", "skip", "quit")


def _picked_zone_change(inv: Invocation, facts: RepoFacts, git: GitReader) -> str | None:
    """``revert``/``cherry-pick`` of a commit that changed a zone would write that zone anew."""
    if inv.command not in ("revert", "cherry-pick") or inv.args.has(*_PICK_CONTROL):
        return None
    words = list(inv.args.positionals)
    if not words:
        return None
    ranged = any(".." in w or w.startswith("^") for w in words)
    listed = git(["rev-list", *([] if ranged else ["--no-walk=unsorted"]), "--end-of-options", *words])
    commits = listed.split()
    if not commits:
        return None  # git will say what is wrong with the arguments
    if len(commits) > MAX_PICKED_COMMITS:
        return f"{len(commits)} commits; at most {MAX_PICKED_COMMITS} are picked or reverted at once"
    fold = facts.case_insensitive
    for commit in commits:
        names = git(["diff-tree", "-r", "-m", "--root", "--name-only", "--no-commit-id", commit]).split("\n")
        for name in filter(None, names):
            for zone in facts.protected:
                if within(name, zone.path, fold=fold) and not any(
                    within(name, h, fold=fold) for h in zone.holes
                ):
                    return (
                        f"commit {commit[:12]} changes {name!r} in the {zone.describe()}; "
                        f"git {inv.command} would write it anew (only the QMS and people change zones)"
                    )
    return None


def confine(inv: Invocation, facts: RepoFacts, git: GitReader | None = None) -> Invocation:
    """Walk every path the step will open; the invocation to run (file options inlined) or Refused.

    With ``git`` (a read-only query runner) ``revert``/``cherry-pick`` of commits that changed a
    protected zone are refused too (rule ``protected-path``).
    """
    if git is not None and (why := _picked_zone_change(inv, facts, git)):
        raise Refused("protected-path", why)
    for spec in pathspecs(inv, facts):
        if spec.exclude:
            continue
        if spec.path is None:
            raise Refused("outside-project", f"pathspec {spec.raw!r} is outside the project root")
        rel = spec.path
        if spec.wildcard:
            rel = literal_prefix(rel).rpartition("/")[0]
        walk(facts.root, rel)
        if _writes_through(inv) and any(
            within(spec.path, folder, fold=facts.case_insensitive) for folder in facts.agent_writable
        ):
            raise Refused(
                "agent-writable",
                f"git {inv.command} of {spec.raw!r}: agents can swap folders there for links at any "
                "moment; move or delete your own files there from your container",
            )
    for use in inv.args.uses:
        if use.is_file and use.value not in (None, "-") and not use.negated:
            walk(facts.root, _relative(facts.root, use.value or ""))
    return _inline_files(inv, facts)
