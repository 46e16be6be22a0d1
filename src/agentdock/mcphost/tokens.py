"""Per-agent bearer tokens, kept outside the project, where no git command reaches them.

``TokenStore(root)`` manages ``paths.token_store_file(root)``
(``<data_home>/projects/<key>/tokens.json``, mode 0600 in 0700 folders), a JSON object
``{"version": 1, "agents": {"<agent>": {"sha256": "<hex>", "created": "<iso>"}}}``.
The plain token is written only to ``paths.agent_token_file(root, agent)``
(``.../agents/<agent>/token``, mode 0600), which no container mounts: the launcher
reads it and writes the agent's own ``.mcp.json`` overlay.  Neither file is under the
project root, so neither an agent's git commands nor its container can reach another
agent's token, and no commit can replace the hashes.

Tokens are 256 random bits, so an unsalted SHA-256 is a safe verifier; lookups
compare digests with :func:`hmac.compare_digest` against every stored hash.
Writes are atomic and serialised across processes by a lock file; a server
reloads the store whenever the file changes, so ``--rotate`` takes effect at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import stat
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agentdock import paths
from agentdock.mcphost.errors import TokenStoreError, UnknownAgent
from agentdock.mcphost.files import atomic_write_text, file_lock

__all__ = [
    "AGENT_NAME_RE",
    "TOKEN_PREFIX",
    "TokenStore",
    "known_agents",
    "make_private_dir",
    "require_known_agent",
]

#: Agent names are file names in ``.claude/agents/``; nothing else may reach a path.
AGENT_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
TOKEN_PREFIX = "adk_"  # noqa: S105 - a public prefix, not a secret
_STORE_VERSION = 1


def known_agents(root: Path) -> list[str]:
    """Agent names defined by ``<root>/.claude/agents/<name>.md``, sorted."""
    folder = paths.agents_dir(root)
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.md") if AGENT_NAME_RE.match(p.stem))


def require_known_agent(root: Path, agent: str) -> str:
    """Return ``agent`` if it is a well-formed name with a definition file, else raise UnknownAgent."""
    if not isinstance(agent, str) or not AGENT_NAME_RE.match(agent):
        raise UnknownAgent(f"invalid agent name {agent!r}: expected lowercase letters, digits, '_' or '-'")
    if not (paths.agents_dir(root) / f"{agent}.md").is_file():
        raise UnknownAgent(
            f"unknown agent {agent!r}: no {paths.agents_dir(root) / (agent + '.md')} "
            f"(known: {', '.join(known_agents(root)) or 'none'})"
        )
    return agent


def make_private_dir(path: Path) -> None:
    """Create ``path`` and any missing parents with mode 0700; ``path`` itself ends up 0700.

    Raises TokenStoreError when ``path`` is a link or not owned by this user: private state
    is never written through something another account could have placed.
    """
    missing = [p for p in (path, *path.parents) if not p.exists() and not p.is_symlink()]
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=0o700)
    try:
        st = path.lstat()
    except OSError as exc:
        raise TokenStoreError(f"cannot create {path}: {exc}") from exc
    if not stat.S_ISDIR(st.st_mode):
        raise TokenStoreError(f"{path} is not a directory (a link or a file); remove it")
    if st.st_uid != os.geteuid():
        raise TokenStoreError(f"{path} is owned by uid {st.st_uid}, not by this user ({os.geteuid()})")
    if stat.S_IMODE(st.st_mode) != 0o700:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            os.fchmod(fd, 0o700)
        finally:
            os.close(fd)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class _Snapshot:
    key: tuple[int, int, int]
    hashes: dict[str, str]  # agent -> sha256 hex


class TokenStore:
    """Issue, rotate and verify agents' bearer tokens for one project root."""

    def __init__(self, project_root: Path) -> None:
        self.root = Path(project_root)
        self.path = paths.token_store_file(self.root)
        self._lock_path = self.path.with_name("tokens.lock")
        self._cache: _Snapshot | None = None
        self._cache_lock = threading.Lock()

    # -- public API ---------------------------------------------------------------------------------

    def ensure(self, agent: str) -> str:
        """The agent's current token, creating (and recording) one if it has none or its file is stale."""
        require_known_agent(self.root, agent)
        with self._locked():
            data = self._read()
            current = self._read_agent_file(agent)
            entry = data["agents"].get(agent)
            if (
                current is not None
                and entry is not None
                and hmac.compare_digest(_digest(current), entry["sha256"])
            ):
                return current
            return self._issue(data, agent)

    def rotate(self, agent: str) -> str:
        """Replace the agent's token; the old one stops verifying immediately."""
        require_known_agent(self.root, agent)
        with self._locked():
            return self._issue(self._read(), agent)

    def verify(self, token: str) -> str | None:
        """The agent the token belongs to, or None.  Constant-time in the token's content."""
        if not isinstance(token, str) or not token:
            return None
        try:
            hashes = self._hashes()
        except TokenStoreError:
            return None
        presented = _digest(token)
        match: str | None = None
        for agent, stored in hashes.items():
            if hmac.compare_digest(presented, stored) and match is None:
                match = agent
        return match

    def agents(self) -> list[str]:
        """Agents that currently have a token."""
        return sorted(self._hashes())

    # -- internals ----------------------------------------------------------------------------------

    def _locked(self) -> Any:
        self._ensure_state_dir()
        return file_lock(self._lock_path)

    def _ensure_state_dir(self) -> None:
        make_private_dir(self.path.parent)
        marker = self.path.with_name("project.json")
        if not marker.exists():  # for people (and doctor): which project this folder belongs to
            atomic_write_text(marker, json.dumps({"root": str(self.root.resolve())}) + "\n", mode=0o600)

    def _issue(self, data: dict[str, Any], agent: str) -> str:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token_file = paths.agent_token_file(self.root, agent)
        make_private_dir(token_file.parent)
        # The agent's file first: if we die between the two writes the old hash still verifies
        # nothing new, and the next ensure() notices the mismatch and issues again.
        atomic_write_text(token_file, token + "\n", mode=0o600)
        data["agents"][agent] = {"sha256": _digest(token), "created": datetime.now(UTC).isoformat()}
        atomic_write_text(self.path, json.dumps(data, indent=2, sort_keys=True) + "\n", mode=0o600)
        with self._cache_lock:
            self._cache = None
        return token

    def _read_agent_file(self, agent: str) -> str | None:
        try:
            text = paths.agent_token_file(self.root, agent).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise TokenStoreError(f"cannot read {agent}'s token file: {exc}") from exc
        return text or None

    def _read(self) -> dict[str, Any]:
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {"version": _STORE_VERSION, "agents": {}}
        except OSError as exc:
            raise TokenStoreError(f"cannot read {self.path}: {exc}") from exc
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise TokenStoreError(f"{self.path} is not valid JSON: {exc}") from exc
        agents = data.get("agents") if isinstance(data, dict) else None
        if not isinstance(agents, dict) or not all(
            isinstance(v, dict) and isinstance(v.get("sha256"), str) for v in agents.values()
        ):
            raise TokenStoreError(
                f"{self.path} is malformed: expected {{'agents': {{name: {{'sha256': ...}}}}}}"
            )
        return {"version": _STORE_VERSION, "agents": agents}

    def _hashes(self) -> dict[str, str]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return {}
        except PermissionError as exc:
            # a server that dropped root to the project's owner can no longer reach root's data
            # folder: it keeps the hashes it read before the drop (a rotation needs a restart)
            with self._cache_lock:
                if self._cache is not None:
                    return self._cache.hashes
            raise TokenStoreError(f"cannot stat {self.path}: {exc}") from exc
        except OSError as exc:
            raise TokenStoreError(f"cannot stat {self.path}: {exc}") from exc
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise TokenStoreError(
                f"{self.path} is readable by others (mode {stat.S_IMODE(st.st_mode):o}); chmod 600"
            )
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        with self._cache_lock:
            if self._cache is not None and self._cache.key == key:
                return self._cache.hashes
        hashes = {agent: entry["sha256"] for agent, entry in self._read()["agents"].items()}
        with self._cache_lock:
            self._cache = _Snapshot(key, hashes)
        return hashes
