"""Creating a QMS project (``qms init``) and finding one from a working directory."""

from __future__ import annotations

from pathlib import Path

from agentdock import paths
from agentdock.mcphost.files import atomic_write_text
from agentdock.qms.agents import DEFAULT_GROUPS, render_agent_file
from agentdock.qms.errors import BadRequest
from agentdock.qms.roster import Roster

__all__ = ["find_root", "init_project"]

_QMS_FOLDERS = ("SOP", "CR", "INV", ".meta", ".audit", ".archive")


def init_project(root: Path) -> list[Path]:
    """Create ``QMS/``, the roster (``QMS/.meta/roster.json``, pinned), the default agents and
    their folders; existing files are left alone (an existing roster is not re-confirmed: that
    is ``qms roster accept``).

    Returns the paths it created.
    """
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise BadRequest(f"{root} exists and is not a directory", rule="init.root")
    created: list[Path] = []

    def mkdir(path: Path, mode: int = 0o755) -> None:
        if not path.is_dir():
            path.mkdir(mode=mode, parents=True, exist_ok=True)
            created.append(path)

    for folder in _QMS_FOLDERS:
        mkdir(paths.qms_dir(root) / folder)
    mkdir(paths.agents_dir(root))
    mkdir(paths.sessions_dir(root))
    mkdir(paths.state_dir(root), 0o700)
    roster = Roster(root)
    if roster.state()[0] == "missing":
        roster.write({agent: DEFAULT_GROUPS[agent] for agent in paths.DEFAULT_AGENTS})
        created.append(roster.file)
    for agent in paths.DEFAULT_AGENTS:
        definition = paths.agents_dir(root) / f"{agent}.md"
        if not definition.exists():
            atomic_write_text(definition, render_agent_file(agent, DEFAULT_GROUPS[agent]))
            created.append(definition)
        mkdir(paths.agent_workspace_dir(root, agent))
        mkdir(paths.agent_inbox_dir(root, agent))
    return created


def find_root(start: Path) -> Path | None:
    """The nearest folder at or above ``start`` holding ``QMS/`` or ``.claude/agents/``."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if paths.qms_dir(folder).is_dir() or paths.agents_dir(folder).is_dir():
            return folder
    return None
