"""Recording a branch's upstream for git, because the sandbox will not let git write ``.git/config``.

``push -u``, ``branch --set-upstream-to``, ``switch --track``… end with git printing
``branch 'B' set up to track 'R/X'.`` and then failing to write the config (read-only inside
the sandbox: a writable ``.git/config`` is a command-execution primitive).  After such a step
the gateway writes exactly the two or three keys itself — ``branch.B.remote``,
``branch.B.merge`` (and ``branch.B.rebase``) — and only when every part checks out:

* the step was a ``push``, ``branch``, ``switch`` or ``checkout`` and git reported the failed write;
* ``B`` is an existing local branch with no upstream yet (an existing upstream is never changed);
* ``R`` is a configured remote and ``refs/heads/X`` a valid ref name.

Nothing else in ``.git/config`` can change through the gateway.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

__all__ = ["TRACKING_COMMANDS", "UpstreamRequest", "apply_upstreams", "requested_upstreams"]

TRACKING_COMMANDS = frozenset({"push", "branch", "switch", "checkout"})
_LINE = re.compile(
    r"^branch '(?P<branch>[^'\n]+)' set up to track '(?P<target>[^'\n]+)'(?P<rebase> by rebasing)?\.$"
)
_WRITE_FAILED = "could not write config file"


class UpstreamRequest(tuple[str, str, str, bool]):
    """(branch, remote, remote branch, rebase)."""

    @property
    def branch(self) -> str:
        return self[0]

    @property
    def remote(self) -> str:
        return self[1]

    @property
    def merge(self) -> str:
        return "refs/heads/" + self[2]

    @property
    def rebase(self) -> bool:
        return self[3]


def requested_upstreams(
    command: str, stdout: str, stderr: str, remotes: Sequence[str]
) -> list[UpstreamRequest]:
    """The upstreams git tried and failed to record in this step's output."""
    if command not in TRACKING_COMMANDS or _WRITE_FAILED not in stderr:
        return []
    found: list[UpstreamRequest] = []
    for line in (stdout + "\n" + stderr).splitlines():
        match = _LINE.match(line.strip())
        if match is None:
            continue
        target = match["target"]
        remote = max((r for r in remotes if target.startswith(r + "/")), key=len, default=None)
        if remote is None:
            continue  # a local upstream ('main') or an unknown remote: not recorded
        request = UpstreamRequest((match["branch"], remote, target[len(remote) + 1 :], bool(match["rebase"])))
        if request not in found:
            found.append(request)
    return found


def apply_upstreams(requests: Sequence[UpstreamRequest], git: Callable[..., tuple[int, str]]) -> list[str]:
    """Write each valid request with ``git(*args) -> (exit code, stdout)``; a note per request."""
    notes: list[str] = []
    for req in requests:
        checks = (
            git("check-ref-format", "--branch", req.branch)[0] == 0,
            git("check-ref-format", req.merge)[0] == 0,
            git("rev-parse", "--verify", "--quiet", f"refs/heads/{req.branch}")[0] == 0,
        )
        if not all(checks):
            notes.append(f"[gateway: upstream of {req.branch!r} not recorded: invalid branch name]")
            continue
        if git("config", "--get", f"branch.{req.branch}.merge")[0] == 0:
            notes.append(f"[gateway: {req.branch!r} already has an upstream; left unchanged]")
            continue
        keys = [(f"branch.{req.branch}.remote", req.remote), (f"branch.{req.branch}.merge", req.merge)]
        if req.rebase:
            keys.append((f"branch.{req.branch}.rebase", "true"))
        if all(git("config", key, value)[0] == 0 for key, value in keys):
            notes.append(f"[gateway: recorded upstream of {req.branch!r}: {req.remote}/{req.merge[11:]}]")
        else:
            notes.append(f"[gateway: could not record the upstream of {req.branch!r}]")
    return notes
