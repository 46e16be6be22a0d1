"""Users of the QMS: ``.claude/agents/<user>.md`` with front matter ``name`` and ``group``."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import yaml

from agentdock import paths
from agentdock.mcphost.tokens import AGENT_NAME_RE
from agentdock.qms.errors import BadRequest, StorageError

__all__ = ["DEFAULT_GROUPS", "Group", "User", "load_users", "parse_user_name", "render_agent_file"]


class Group(StrEnum):
    ADMINISTRATOR = "administrator"
    INITIATOR = "initiator"
    QUALITY = "quality"
    REVIEWER = "reviewer"


#: The groups of the seven default agents (``paths.DEFAULT_AGENTS``).
DEFAULT_GROUPS: dict[str, Group] = {
    "claude": Group.ADMINISTRATOR,
    "qa": Group.QUALITY,
    "tu_ui": Group.REVIEWER,
    "tu_scene": Group.REVIEWER,
    "tu_sketch": Group.REVIEWER,
    "tu_sim": Group.REVIEWER,
    "bu": Group.REVIEWER,
}

_DESCRIPTIONS = {
    Group.ADMINISTRATOR: "Administrator and initiator: creates documents, checks them out, routes them.",
    Group.QUALITY: "Quality: is assigned every review and approval, assigns further reviewers.",
    Group.REVIEWER: "Technical reviewer: reviews and approves documents assigned to it.",
    Group.INITIATOR: "Initiator: creates documents and routes them.",
}


@dataclass(frozen=True)
class User:
    name: str
    group: Group

    @property
    def can_initiate(self) -> bool:
        return self.group in (Group.ADMINISTRATOR, Group.INITIATOR)


def parse_user_name(value: object) -> str:
    if not isinstance(value, str) or not AGENT_NAME_RE.fullmatch(value):
        raise BadRequest(f"malformed user name {value!r}", rule="user.format")
    return value


def render_agent_file(name: str, group: Group) -> str:
    front = yaml.safe_dump({"name": name, "group": group.value}, sort_keys=False)
    return f"---\n{front}---\n\n{_DESCRIPTIONS[group]}\n"


def load_users(root: Path) -> dict[str, User]:
    """Every agent defined in ``.claude/agents/``; a file with a broken definition is an error."""
    users: dict[str, User] = {}
    folder = paths.agents_dir(root)
    if not folder.is_dir():
        return users
    for path in sorted(folder.glob("*.md")):
        if not AGENT_NAME_RE.fullmatch(path.stem):
            continue
        text = path.read_text(encoding="utf-8")
        front: object = None
        if text.startswith("---\n") and "\n---" in text[3:]:
            try:
                front = yaml.safe_load(text[4 : text.index("\n---", 3)])
            except yaml.YAMLError:
                front = None
        if not isinstance(front, dict):
            raise StorageError(f"{path}: no YAML front matter with name and group", rule="agents.definition")
        try:
            group = Group(str(front.get("group", "")))
        except ValueError:
            raise StorageError(
                f"{path}: group {front.get('group')!r} is not one of {', '.join(g.value for g in Group)}",
                rule="agents.definition",
            ) from None
        name = str(front.get("name") or path.stem)
        if name != path.stem:
            raise StorageError(
                f"{path}: name {name!r} does not match the file name", rule="agents.definition"
            )
        users[name] = User(name, group)
    return users
