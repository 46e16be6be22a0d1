"""The MCP-server host ``qms-mcp`` and ``git-mcp`` both run on.

* ``agentdock.mcphost.options`` — the shared flags, resolved into a frozen ``ServerOptions``.
* ``agentdock.mcphost.serve`` — ``run_server``: raise the fd limit, bind, drop root, build, serve.
* ``agentdock.mcphost.limits`` / ``guard`` / ``bodylimit`` — per-peer and total connection caps,
  the read deadline, idle timeout, head and body sizes.
* ``agentdock.mcphost.privileges`` — become the project's owner when started as root (or refuse).
* ``agentdock.mcphost.results`` — refusals (``refused [<rule>]: …``), tool results, JSON-RPC errors.
* :class:`TokenStore` — ``ensure(agent)``, ``rotate(agent)``, ``verify(token)``.
* :class:`IdempotencyStore` — ``Idempotency-Key`` records under ``<root>/.agentdock/``.
* ``agentdock.mcphost.http`` (imported on its own; it pulls in the MCP SDK and uvicorn):
  ``build_app``, ``parse_hosts``, ``caller_agent``, ``idempotency_key`` (serving: ``serve``).
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
