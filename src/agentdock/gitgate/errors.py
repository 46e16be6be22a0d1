"""The exceptions ``agentdock.gitgate`` raises.

::

    GitGateError                 base of everything below
    ├── Refused                  the command was not run; ``.rule`` names the policy rule that refused it
    ├── ExecutionError           git could not be started at all (missing binary, bad project root)
    └── ConfigError              the server's own configuration is invalid (bad --project-root, --protect)

A refusal is an answer, not a crash: the MCP tool reports it as an ``isError``
tool result whose text starts with ``refused [<rule>]``.  A git command that
runs and exits non-zero is not an exception at all; its exit code and output
are part of the result.
"""

from __future__ import annotations

__all__ = ["ConfigError", "ExecutionError", "GitGateError", "Refused"]


class GitGateError(Exception):
    """Base of every ``agentdock.gitgate`` error."""


class Refused(GitGateError):
    """The policy (or the command parser) refused a command; nothing ran."""

    def __init__(self, rule: str, reason: str, *, step: int | None = None) -> None:
        self.rule = rule
        self.reason = reason
        self.step = step
        where = f" (step {step})" if step is not None else ""
        super().__init__(f"refused [{rule}]{where}: {reason}")


class ExecutionError(GitGateError):
    """git could not be started (not installed, project root vanished)."""


class ConfigError(GitGateError):
    """The gateway was configured with values that cannot work."""
