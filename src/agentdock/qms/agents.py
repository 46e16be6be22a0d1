"""Users and groups of the QMS, and the ``.claude/agents/<user>.md`` files ``qms init`` writes.

Those files are Claude Code subagent/instruction files; the ``group`` in their front matter is
informational only.  Permissions are decided on the roster (:mod:`agentdock.qms.roster`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import yaml

from agentdock.mcphost.tokens import AGENT_NAME_RE
from agentdock.qms.errors import BadRequest

__all__ = ["DEFAULT_GROUPS", "Group", "User", "parse_user_name", "render_agent_file"]


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
