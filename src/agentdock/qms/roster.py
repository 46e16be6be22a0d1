"""The roster: which users exist and which group each is in — what every permission is decided on.

Where it lives, and why there::

    QMS/.meta/roster.json                {"format": 1, "users": {"claude": "administrator", ...}}
    <state>/qms/roster.sha256            SHA-256 of the exact bytes a person last confirmed

``QMS/`` is written only by the QMS (read-only in agent containers, a protected zone of the
git gateway), and no MCP tool writes the roster: only ``qms init`` and the person-only
``qms roster set|remove|accept|import`` commands do.  Keeping it in ``QMS/.meta`` means it is
versioned with the documents it governs and agents can read who is who.  Because the git
gateway is one line of defence and may one day miss something (or a ``pull`` may bring a
roster from elsewhere), the roster is also *pinned*: its digest is kept in agentdock's private
state (``.agentdock/``, masked in containers and unreachable through git-mcp).  A roster whose
bytes do not match the pin is refused (``roster.changed``) until a person looks at it and
runs ``qms roster accept``; a roster never confirmed on this machine (a fresh clone) is
refused the same way (``roster.unconfirmed``).  Permissions fail closed, never open.

``.claude/agents/<user>.md`` stay Claude Code subagent / instruction files; their ``group``
line is not read for permissions (``qms roster import`` copies it once, at a person's request,
to migrate a project made before the roster existed).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from agentdock import paths
from agentdock.mcphost.tokens import AGENT_NAME_RE
from agentdock.qms.agents import Group, User
from agentdock.qms.errors import BadRequest, IntegrityError, StorageError
from agentdock.qms.safefs import SafeRoot

__all__ = [
    "MAX_ROSTER_BYTES",
    "PIN_ENV",
    "Roster",
    "parse_roster",
    "render_roster",
]

#: Inside an agent container agentdock's private state is masked, so the launcher passes the
#: digest the host confirmed in this variable; the container's own ``qms`` reads check against
#: it.  Only whoever starts a process sets its environment: on the host, the person.
PIN_ENV = "AGENTDOCK_ROSTER_SHA256"

MAX_ROSTER_BYTES = 64 * 1024
_FORMAT = 1


def render_roster(users: Mapping[str, Group]) -> str:
    body = {"format": _FORMAT, "users": {name: Group(group).value for name, group in sorted(users.items())}}
    return json.dumps(body, indent=2) + "\n"


def parse_roster(text: str) -> dict[str, User]:
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StorageError(f"QMS/.meta/roster.json is not valid JSON: {exc}", rule="roster.format") from exc
    if not isinstance(data, dict) or data.get("format") != _FORMAT or not isinstance(data.get("users"), dict):
        raise StorageError(
            'QMS/.meta/roster.json must be {"format": 1, "users": {...}}', rule="roster.format"
        )
    users: dict[str, User] = {}
    for name, group in data["users"].items():
        if not isinstance(name, str) or not AGENT_NAME_RE.fullmatch(name):
            raise StorageError(f"roster: malformed user name {name!r}", rule="roster.format")
        try:
            users[name] = User(name, Group(group))
        except ValueError:
            raise StorageError(
                f"roster: {name}'s group {group!r} is not one of {', '.join(g.value for g in Group)}",
                rule="roster.format",
            ) from None
    return users


class Roster:
    """Reading (verified against the pin) and writing (person-only) one project's roster."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.safe = SafeRoot(self.root)
        self.file = paths.qms_dir(self.root) / ".meta" / "roster.json"
        self.pin = paths.state_dir(self.root) / "qms" / "roster.sha256"

    def _raw(self) -> bytes | None:
        return self.safe.read_bytes(self.file, limit=MAX_ROSTER_BYTES)

    def _pinned(self) -> str | None:
        handed = os.environ.get(PIN_ENV, "").strip()
        if handed:  # an agent container: the launcher hands over the digest the host confirmed
            return handed
        raw = self.safe.read_bytes(self.pin, limit=256)
        return None if raw is None else raw.decode("ascii", "replace").strip()

    def pinned_digest(self) -> str | None:
        """The confirmed digest (what the launcher hands to agent containers in ``PIN_ENV``)."""
        return self._pinned()

    def state(self) -> tuple[str, str]:
        """``(state, message)``: state is ``ok``, ``missing``, ``unconfirmed`` or ``changed``."""
        raw = self._raw()
        if raw is None:
            return "missing", (
                f"no roster at {self.file.relative_to(self.root)}: a person creates it with `qms init` "
                "or `qms roster import` (copies the groups of .claude/agents/*.md once)"
            )
        pinned = self._pinned()
        digest = hashlib.sha256(raw).hexdigest()
        if pinned is None:
            return "unconfirmed", (
                "the roster (QMS/.meta/roster.json) has not been confirmed on this machine: a person "
                "reviews it (`qms roster`) and runs `qms roster accept`"
            )
        if pinned != digest:
            return "changed", (
                "the roster (QMS/.meta/roster.json) changed outside `qms roster` "
                f"(sha256 {digest[:12]}, confirmed {pinned[:12]}); every permission is refused until a "
                "person reviews it (`qms roster`) and runs `qms roster accept`"
            )
        return "ok", "roster confirmed"

    def users(self) -> dict[str, User]:
        """The verified roster; IntegrityError (fail closed) if it is missing, unconfirmed or changed."""
        state, message = self.state()
        if state != "ok":
            raise IntegrityError(message, rule=f"roster.{state}")
        raw = self._raw()
        assert raw is not None
        return parse_roster(raw.decode("utf-8"))

    def unverified(self) -> dict[str, User]:
        """The roster file as it is, for a person to review (``qms roster``)."""
        raw = self._raw()
        return {} if raw is None else parse_roster(raw.decode("utf-8"))

    # -- person-only writes (CLI, never an MCP tool) --------------------------------------------------
    def write(self, users: Mapping[str, Group]) -> None:
        text = render_roster(users)
        parse_roster(text)
        self.safe.write_text(self.file, text)
        self.accept()

    def accept(self) -> str:
        """Pin the roster file as it is now; returns its digest."""
        raw = self._raw()
        if raw is None:
            raise IntegrityError("there is no roster to accept", rule="roster.missing")
        parse_roster(raw.decode("utf-8"))
        digest = hashlib.sha256(raw).hexdigest()
        self.safe.write_text(self.pin, digest + "\n", mode=0o600)
        return digest

    def set(self, name: str, group: str) -> dict[str, User]:
        if not AGENT_NAME_RE.fullmatch(name):
            raise BadRequest(f"malformed user name {name!r}", rule="user.format")
        try:
            chosen = Group(group)
        except ValueError:
            raise BadRequest(
                f"unknown group {group!r}: one of {', '.join(g.value for g in Group)}", rule="roster.group"
            ) from None
        users = {u.name: u.group for u in self.users().values()} if self._raw() is not None else {}
        users[name] = chosen  # users() refused above unless the file is the one a person confirmed
        self.write(users)
        return self.users()

    def remove(self, name: str) -> dict[str, User]:
        users = {u.name: u.group for u in self.users().values()}
        if name not in users:
            raise BadRequest(f"{name!r} is not in the roster", rule="roster.unknown-user")
        del users[name]
        self.write(users)
        return self.users()

    def import_agent_files(self) -> dict[str, User]:
        """Build the roster from ``.claude/agents/*.md`` front matter (a one-time, person-run migration)."""
        found: dict[str, Group] = {}
        folder = paths.agents_dir(self.root)
        for name in self.safe.listdir(folder):
            stem = name.removesuffix(".md")
            if not name.endswith(".md") or not AGENT_NAME_RE.fullmatch(stem):
                continue
            text = self.safe.read_text(folder / name, limit=MAX_ROSTER_BYTES) or ""
            front: object = None
            if text.startswith("---\n") and "\n---" in text[3:]:
                try:
                    front = yaml.safe_load(text[4 : text.index("\n---", 3)])
                except yaml.YAMLError:
                    front = None
            if not isinstance(front, dict):
                raise StorageError(
                    f"{folder / name}: no YAML front matter with a group", rule="roster.import"
                )
            try:
                found[stem] = Group(str(front.get("group", "")))
            except ValueError:
                raise StorageError(
                    f"{folder / name}: group {front.get('group')!r} is not one of "
                    f"{', '.join(g.value for g in Group)}",
                    rule="roster.import",
                ) from None
        self.write(found)
        return self.users()
