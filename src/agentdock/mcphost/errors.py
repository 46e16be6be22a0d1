"""The exceptions ``agentdock.mcphost`` raises.

::

    AuthError                      base of everything below
    ├── UnknownAgent               the name is malformed or has no ``.claude/agents/<name>.md``
    ├── TokenStoreError            the hash store is unreadable, malformed or not private
    ├── Unauthenticated            a request carried no identity (no/wrong token, no stdio user)
    ├── IdempotencyConflict        an ``Idempotency-Key`` was reused for a different request
    └── PrivilegeError             started as root with no owner to become, or the drop did not hold
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "IdempotencyConflict",
    "PrivilegeError",
    "TokenStoreError",
    "Unauthenticated",
    "UnknownAgent",
]


class AuthError(Exception):
    """Base of every ``agentdock.mcphost`` error."""


class UnknownAgent(AuthError):
    """The agent name is malformed or not defined in ``.claude/agents/``."""


class TokenStoreError(AuthError):
    """The token hash store cannot be read or written safely."""


class Unauthenticated(AuthError):
    """No caller identity: missing or wrong bearer token, or no stdio user configured."""


class IdempotencyConflict(AuthError):
    """An ``Idempotency-Key`` already recorded for a different operation or arguments."""


class PrivilegeError(AuthError):
    """Started as root with no unprivileged owner to become, or dropping root did not hold."""
