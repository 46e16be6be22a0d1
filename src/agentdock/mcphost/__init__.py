"""Per-agent bearer tokens shared by ``qms-mcp`` and ``git-mcp``.

* :class:`TokenStore` — ``ensure(agent)``, ``rotate(agent)``, ``verify(token)``.
* :class:`IdempotencyStore` — ``Idempotency-Key`` records under ``<root>/.agentdock/``.
* ``agentdock.mcphost.http`` (imported on its own; it pulls in the MCP SDK and uvicorn):
  ``build_app``, ``serve``, ``serve_async``, ``parse_hosts``, ``caller_agent``, ``idempotency_key``.
* ``agentdock.mcphost.files`` — atomic writes and cross-process locks.
* :func:`migrate_legacy_secrets` — move secrets older versions kept in the project out of it.
* ``agentdock.mcphost.cli:main`` — ``agentdock token <agent> --project-root DIR [--rotate]``.
"""

from agentdock.mcphost.errors import (
    AuthError,
    IdempotencyConflict,
    TokenStoreError,
    Unauthenticated,
    UnknownAgent,
)
from agentdock.mcphost.idempotency import IdempotencyStore
from agentdock.mcphost.migrate import legacy_secrets, migrate_legacy_secrets
from agentdock.mcphost.tokens import TokenStore, known_agents, make_private_dir, require_known_agent

__all__ = [
    "AuthError",
    "IdempotencyConflict",
    "IdempotencyStore",
    "TokenStore",
    "TokenStoreError",
    "Unauthenticated",
    "UnknownAgent",
    "known_agents",
    "legacy_secrets",
    "make_private_dir",
    "migrate_legacy_secrets",
    "require_known_agent",
]
