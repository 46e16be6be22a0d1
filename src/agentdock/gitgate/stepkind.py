"""What a git step needs from the runtime: the network, the shared working tree, a long timeout.

* ``READ`` — only reads the repository: short timeout, never waits for another agent;
* ``WRITE`` — changes the index, working tree or refs: long timeout, one such chain at a time;
* ``NETWORK`` — talks to a remote but leaves the working tree alone (``fetch``, ``push``,
  ``ls-remote``, ``remote``): long timeout, the sandbox shares the host network, no working-tree lock;
* ``NETWORK_WRITE`` — both (``pull``).

Anything not named as read-only is treated as a writer: a new subcommand added to the
policy gets the conservative treatment until someone lists it here.
"""

from __future__ import annotations

import enum

from agentdock.gitgate.invocation import Invocation

__all__ = ["StepKind", "classify"]


class StepKind(enum.Enum):
    READ = "read"
    WRITE = "write"
    NETWORK = "network"
    NETWORK_WRITE = "network-write"

    @property
    def network(self) -> bool:
        return self in (StepKind.NETWORK, StepKind.NETWORK_WRITE)

    @property
    def writes_worktree(self) -> bool:
        return self in (StepKind.WRITE, StepKind.NETWORK_WRITE)


_READ = frozenset(
    {
        "blame",
        "cat-file",
        "check-ignore",
        "check-ref-format",
        "cherry",
        "count-objects",
        "describe",
        "diff",
        "diff-files",
        "diff-index",
        "diff-tree",
        "for-each-ref",
        "grep",
        "log",
        "ls-files",
        "ls-tree",
        "merge-base",
        "name-rev",
        "range-diff",
        "rev-list",
        "rev-parse",
        "shortlog",
        "show",
        "show-branch",
        "show-ref",
        "status",
        "verify-commit",
        "verify-tag",
        "version",
        "whatchanged",
    }
)
_READ_STASH = frozenset({"list", "show"})
_NETWORK = frozenset({"fetch", "push", "ls-remote", "remote"})
_NETWORK_WRITE = frozenset({"pull"})


def classify(inv: Invocation) -> StepKind:
    if inv.command in _NETWORK_WRITE:
        return StepKind.NETWORK_WRITE
    if inv.command in _NETWORK:
        return StepKind.NETWORK
    if inv.command in _READ or (inv.command == "stash" and inv.action in _READ_STASH):
        return StepKind.READ
    return StepKind.WRITE
