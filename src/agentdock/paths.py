"""Where agentdock keeps things — one place, so every part agrees.

Two places, by trust:

* **the project root** (the user's repository, which agents read and, through
  git-mcp, may change): the controlled documents (``QMS/``), the agents'
  definitions and per-agent folders (``.claude/``), and agentdock's run state
  (``.agentdock/``: pid and log files, idempotency records, locks).  Nothing
  here is a secret; ``.agentdock/`` and other agents' folders are still masked
  inside containers.
* **agentdock's per-user data folder** (:func:`data_home`: ``$AGENTDOCK_DATA_DIR``,
  else ``$XDG_DATA_HOME/agentdock``, else ``~/.local/share/agentdock``), outside
  every project, one sub-folder per project (:func:`project_data_dir`, keyed by
  a hash of the resolved root), mode 0700: the token hashes, each agent's plain
  token, the overlays the launcher generates for its container (its ``.mcp.json``
  carries the token) and the agent's Claude Code login.  No agent container
  mounts more of it than its own agent's files.

Functions that look at the environment take it as an argument (default: the
process environment at call time; nothing is read at import).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

from agentdock import defaults

__all__ = [
    "DEFAULT_AGENTS",
    "agent_container_dir",
    "agent_data_dir",
    "agent_dir",
    "agent_inbox_dir",
    "agent_overlay_dir",
    "agent_token_file",
    "agent_workspace_dir",
    "agents_dir",
    "data_home",
    "legacy_agent_container_dir",
    "legacy_overlays_dir",
    "legacy_token_store_file",
    "person_settings_file",
    "project_data_dir",
    "project_key",
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


def state_dir(root: Path) -> Path:
    """agentdock's run state in this project (pid/log files, idempotency, locks; never a secret)."""
    return root / ".agentdock"


def run_dir(root: Path) -> Path:
    """pid and log files of host servers and the inbox watcher."""
    return state_dir(root) / "run"


# -- agentdock's private data, outside every project --------------------------------------------


def data_home(environ: Mapping[str, str] | None = None) -> Path:
    """agentdock's per-user data folder: :func:`agentdock.defaults.data_dir` (the one definition)."""
    return defaults.data_dir(environ)


def project_key(root: Path) -> str:
    """``<name>-<16 hex>``: the project's folder name (for people) and a hash of its resolved path."""
    resolved = Path(root).expanduser().resolve()
    name = "".join(c if c.isalnum() or c in "._-" else "-" for c in resolved.name).strip(".-")[:40]
    digest = hashlib.sha256(str(resolved).encode("utf-8")).hexdigest()[:16]
    return f"{name or 'root'}-{digest}"


def project_data_dir(root: Path, environ: Mapping[str, str] | None = None) -> Path:
    """This project's private folder: ``<data_home>/projects/<project_key>`` (mode 0700)."""
    return data_home(environ) / "projects" / project_key(root)


def token_store_file(root: Path, environ: Mapping[str, str] | None = None) -> Path:
    """Hashes of every agent's token (mode 0600); trusted state, out of git's reach."""
    return project_data_dir(root, environ) / "tokens.json"


def agent_data_dir(root: Path, agent: str, environ: Mapping[str, str] | None = None) -> Path:
    """Everything private to one agent of one project (mode 0700)."""
    return project_data_dir(root, environ) / "agents" / agent


def agent_token_file(root: Path, agent: str, environ: Mapping[str, str] | None = None) -> Path:
    """The agent's bearer token in plain text (mode 0600); read by the launcher, never mounted."""
    return agent_data_dir(root, agent, environ) / "token"


def agent_overlay_dir(root: Path, agent: str, environ: Mapping[str, str] | None = None) -> Path:
    """The files the launcher generates for the agent's container (``.mcp.json``, settings, CLAUDE.md),
    each bound read-only over the project's copy in that container only."""
    return agent_data_dir(root, agent, environ) / "overlay"


def agent_container_dir(root: Path, agent: str, environ: Mapping[str, str] | None = None) -> Path:
    """The agent's Claude config dir (``CLAUDE_CONFIG_DIR`` in its container: its Claude login)."""
    return agent_data_dir(root, agent, environ) / "claude"


def person_settings_file(environ: Mapping[str, str] | None = None) -> Path:
    """Claude Code settings a person wants in every agent container (hooks, permissions, model).

    The only source of hooks or extra permissions besides the launcher's own defaults: it
    lives with agentdock's data, where no agent can write."""
    return data_home(environ) / "agent-settings.json"


# -- where earlier versions kept secrets inside the project (migrated out by the launcher) --------


def legacy_token_store_file(root: Path) -> Path:
    return state_dir(root) / "tokens.json"


def legacy_overlays_dir(root: Path) -> Path:
    return state_dir(root) / "overlays"


def legacy_agent_container_dir(root: Path, agent: str) -> Path:
    """``.claude/users/<agent>/container``: the Claude login and plain token, before the data dir."""
    return agent_dir(root, agent) / "container"
