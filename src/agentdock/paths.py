"""Where agentdock keeps things inside a project root — one place, so every part agrees.

A project root holds the user's controlled documents (``QMS/``), the agents'
definitions and per-agent folders (``.claude/``), and agentdock's own private
state (``.agentdock/``: token hashes, run folder, idempotency records).  The
private state and every agent folder other than the agent's own are masked
inside containers.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "DEFAULT_AGENTS",
    "agent_container_dir",
    "agent_dir",
    "agent_inbox_dir",
    "agent_token_file",
    "agent_workspace_dir",
    "agents_dir",
    "qms_dir",
    "run_dir",
    "sessions_dir",
    "state_dir",
    "token_store_file",
    "users_dir",
]

#: The seven agents ``qms init`` creates, in their canonical order.
DEFAULT_AGENTS: tuple[str, ...] = ("claude", "qa", "tu_ui", "tu_scene", "tu_sketch", "tu_sim", "bu")


def qms_dir(root: Path) -> Path:
    """The controlled documents: ``<root>/QMS``."""
    return root / "QMS"


def agents_dir(root: Path) -> Path:
    """Agent definitions: ``<root>/.claude/agents/<agent>.md``."""
    return root / ".claude" / "agents"


def users_dir(root: Path) -> Path:
    """Per-agent folders: ``<root>/.claude/users``."""
    return root / ".claude" / "users"


def sessions_dir(root: Path) -> Path:
    """Session notes agents write (read-write in containers): ``<root>/.claude/sessions``."""
    return root / ".claude" / "sessions"


def agent_dir(root: Path, agent: str) -> Path:
    return users_dir(root) / agent


def agent_workspace_dir(root: Path, agent: str) -> Path:
    """Where checkouts land; the only project folder an agent may write."""
    return agent_dir(root, agent) / "workspace"


def agent_inbox_dir(root: Path, agent: str) -> Path:
    """Task files routed to the agent (``task-<ID>-<workflow>-v<N-X>.md``)."""
    return agent_dir(root, agent) / "inbox"


def agent_container_dir(root: Path, agent: str) -> Path:
    """The agent's Claude config dir (``CLAUDE_CONFIG_DIR`` in its container); private to it."""
    return agent_dir(root, agent) / "container"


def agent_token_file(root: Path, agent: str) -> Path:
    """The agent's own bearer token in plain text (mode 0600), visible only to that agent."""
    return agent_container_dir(root, agent) / ".agentdock-token"


def state_dir(root: Path) -> Path:
    """agentdock's private state for this project (never visible in containers)."""
    return root / ".agentdock"


def token_store_file(root: Path) -> Path:
    """Hashes of every agent's token (mode 0600); the project stores no plain tokens here."""
    return state_dir(root) / "tokens.json"


def run_dir(root: Path) -> Path:
    """pid and log files of host servers and the inbox watcher."""
    return state_dir(root) / "run"
