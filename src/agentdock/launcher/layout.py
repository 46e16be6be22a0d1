"""The filesystem an agent sees inside its container — computed, not improvised.

::

    /<project>                               project root, read-only (working dir)
    /<project>/.claude                       empty read-only tmpfs: nothing of the project's .claude/
                                             (other agents' folders, settings, hooks, commands, skills,
                                             subagents) reaches the container; only what follows:
    /<project>/.claude/users/<agent>/workspace   read-write (checkouts land here)
    /<project>/.claude/users/<agent>/inbox   read-only (tasks routed to the agent)
    /<project>/.claude/sessions              read-only (the project's), other agents' notes visible
    /<project>/.claude/sessions/<agent>      read-write: this agent's own session notes
    /<project>/.claude/settings.json         overlay: launcher-generated (+ the person's agent-settings.json)
    /<project>/.claude/settings.local.json   overlay: the same
    /<project>/.claude/agents                overlay: the agent definitions with only
                                             name/group/description left in their front matter
    /<project>/.agentdock                    empty read-only tmpfs: run state is absent
    /<project>/.mcp.json                     overlay: qms + git through /proxy/mcp_proxy.py, own token
    /<project>/CLAUDE.md                     overlay: .claude/agents/<agent>.md (agents other than claude)
    /home/agent/.claude                      the agent's Claude config dir (CLAUDE_CONFIG_DIR), read-write
    /projects                                read-write, the agent's own: volume <name>-<agent>,
                                             or <host folder>/<agent>
    /home/agent/.ssh                         read-only, when the host user has one

Overlays are written to ``paths.agent_overlay_dir(root, agent)`` and the Claude
config dir is ``paths.agent_container_dir(root, agent)`` — both in agentdock's
data folder, outside the project, and bound into this agent's container only.
Docker cannot create a mount point inside a read-only bind mount, so a missing
overlay target at the project's top level gets an inert stub on the host
(``{"mcpServers": {}}`` for ``.mcp.json``, an empty ``CLAUDE.md``); targets
under ``.claude`` need none (the tmpfs holds their mount points).
:mod:`agentdock.launcher.hostprep` applies the plan without following links.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agentdock import paths, safefs
from agentdock.defaults import GIT_PORT, QMS_PORT
from agentdock.launcher.errors import ConfigError, UnsafeHostPath
from agentdock.launcher.project import container_project_dir
from agentdock.mcphost.tokens import AGENT_NAME_RE
from agentdock.qms.errors import QmsError
from agentdock.qms.roster import PIN_ENV, Roster

__all__ = [
    "COMMAND_SETTINGS",
    "CONTAINER_HOME",
    "MCP_SERVER_NAMES",
    "Bind",
    "ContainerLayout",
    "HostDir",
    "LayoutSpec",
    "agent_settings",
    "mcp_config",
    "plan_layout",
    "read_definition",
    "read_definitions",
    "read_person_settings",
    "sanitized_definition",
    "settings_local",
]

CONTAINER_HOME = "/home/agent"
CONTAINER_CONFIG_DIR = f"{CONTAINER_HOME}/.claude"
PROXY_PATH = "/proxy/mcp_proxy.py"
MCP_SERVER_NAMES = ("qms", "git")
#: tmpfs options of the masks: empty, read-only, tiny.
MASK_TMPFS = "ro,size=64k,mode=0755"
#: The sanitized copy of ``.claude/agents`` (the QMS roster) inside the overlay folder.
AGENTS_OVERLAY = "agents"
#: An agent definition (its CLAUDE.md overlay) is a few kilobytes.
MAX_DEFINITION_BYTES = 256 * 1024


@dataclass(frozen=True)
class LayoutSpec:
    """What decides an agent's container filesystem."""

    root: Path
    agent: str
    token: str
    qms_port: int = QMS_PORT
    git_port: int | None = GIT_PORT  # None: no git-mcp (a project without git, or --no-git)
    server_host: str = "host.docker.internal"
    projects: str | Path = "agentdock-projects"  # a named volume, or a host folder
    ssh_dir: Path | None = None
    proxy_retries: int = 3
    proxy_timeout_ms: int = 10000


@dataclass(frozen=True)
class Bind:
    source: str  # host path, or a volume name when ``volume``
    target: str
    read_only: bool
    volume: bool = False


@dataclass(frozen=True)
class HostDir:
    """A folder the container mounts from the project: created if missing, checked link-free."""

    rel: str  # relative to the project root
    hand_over: bool  # the container user must be able to write it
    mode: int = 0o755


@dataclass(frozen=True)
class ContainerLayout:
    project_dir: str
    binds: tuple[Bind, ...]
    tmpfs: dict[str, str]
    environment: dict[str, str]
    overlay_dir: Path  # in the data folder
    config_dir: Path  # in the data folder (CLAUDE_CONFIG_DIR)
    overlays: dict[str, str]  # overlay file name in overlay_dir -> its content
    stubs: dict[str, str]  # missing top-level overlay targets (relative to root) -> inert content
    project_dirs: tuple[HostDir, ...]  # project folders the container mounts
    checked: tuple[str, ...]  # other project paths mounts cross: must not be links
    root: Path = Path()
    own_dirs: tuple[Path, ...] = ()  # host folders outside the project that only this agent writes
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def writable_dirs(self) -> tuple[Path, ...]:
        """Host folders the container may write."""
        hand = (self.root / d.rel for d in self.project_dirs if d.hand_over)
        return (*hand, self.config_dir, *self.own_dirs)


def mcp_config(spec: LayoutSpec) -> dict[str, Any]:
    """The ``.mcp.json`` overlay: each server through the proxy, with this agent's token."""
    ports = {
        name: port for name, port in (("qms", spec.qms_port), ("git", spec.git_port)) if port is not None
    }
    servers = {
        name: {
            "type": "stdio",
            "command": "python3",
            "args": [
                # no site import (3 of a warm start's ~12 ms): the warm path is stdlib only, and a cold
                # start runs site.main() itself before it imports agentdock (proxy/mcp_proxy.py)
                "-S",
                PROXY_PATH,
                f"http://{spec.server_host}:{ports[name]}/mcp",
                "--retries",
                str(spec.proxy_retries),
                "--timeout",
                str(spec.proxy_timeout_ms),
                "--header",
                f"Authorization=Bearer {spec.token}",
            ],
            "env": {},
        }
        for name in MCP_SERVER_NAMES
        if name in ports
    }
    return {"mcpServers": servers}


#: Keys of Claude Code settings whose value runs a program on the agent's behalf.
COMMAND_SETTINGS = ("hooks", "apiKeyHelper", "awsAuthRefresh", "awsCredentialExport", "statusLine")


def agent_settings(person: dict[str, Any] | None) -> dict[str, Any]:
    """The settings overlay: MCP servers enabled and allowed, plus only what the *person* configured.

    ``person`` comes from ``paths.person_settings_file()`` (agentdock's data folder), never from
    the project: nothing an agent can write reaches hooks or permissions.  Without person hooks,
    hooks are disabled outright (``disableAllHooks``).
    """
    settings: dict[str, Any] = dict(person or {})
    settings["enableAllProjectMcpServers"] = True
    settings["enabledMcpjsonServers"] = list(MCP_SERVER_NAMES)
    permissions = dict(settings.get("permissions") or {})
    allow = [str(a) for a in permissions.get("allow") or []]
    allow += [f"mcp__{name}" for name in MCP_SERVER_NAMES if f"mcp__{name}" not in allow]
    permissions["allow"] = allow
    settings["permissions"] = permissions
    if not settings.get("hooks"):
        settings.pop("hooks", None)
        settings["disableAllHooks"] = True
    return settings


def settings_local(existing: dict[str, Any] | None) -> dict[str, Any]:
    """Kept for callers of earlier versions: :func:`agent_settings`."""
    return agent_settings(existing)


def read_person_settings(path: Path) -> dict[str, Any] | None:
    """The person's ``agent-settings.json`` (a JSON object), None when absent; ConfigError when bad."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object of Claude Code settings")
    return data


def read_definition(root: Path, agent: str) -> str | None:
    """``.claude/agents/<agent>.md`` read without following links (None when absent)."""
    try:
        with safefs.open_dir(root, ".claude/agents") as (fd, _):
            raw = safefs.read_regular_file(fd, f"{agent}.md", MAX_DEFINITION_BYTES, paths.agents_dir(root))
    except FileNotFoundError:
        return None
    except safefs.UnsafePathError as exc:
        if exc.reason == "does not exist":
            return None
        raise UnsafeHostPath(exc.path, exc.reason) from exc
    return raw.decode("utf-8", "replace")


#: Front-matter keys of ``.claude/agents/*.md`` that reach a container: ``name``, ``group``
#: (informational; the QMS roster is ``QMS/.meta/roster.json``) and a description.  Everything else Claude Code would honour in a
#: subagent definition (``tools``, ``permissionMode``, ``hooks``, ``mcpServers``, ``model``…)
#: is dropped.
DEFINITION_KEYS = ("name", "group", "description")
MAX_DEFINITIONS = 256


def sanitized_definition(text: str) -> str:
    """An agent definition with only :data:`DEFINITION_KEYS` (plain strings) left in its front matter."""
    body, front = text, None
    if text.startswith("---\n") and "\n---" in text[3:]:
        end = text.index("\n---", 3)
        try:
            front = yaml.safe_load(text[4:end])
        except yaml.YAMLError:
            front = None
        body = text[end + 4 :].split("\n", 1)[1] if "\n" in text[end + 4 :] else ""
    kept = {}
    if isinstance(front, dict):
        kept = {k: front[k] for k in DEFINITION_KEYS if isinstance(front.get(k), str)}
    head = f"---\n{yaml.safe_dump(kept, sort_keys=False)}---\n" if kept else ""
    return head + body


def read_definitions(root: Path) -> dict[str, str]:
    """Every ``.claude/agents/<name>.md``, read without following links, sanitized; ``{}`` when absent."""
    found: dict[str, str] = {}
    try:
        with safefs.open_dir(root, ".claude/agents") as (fd, _):
            with os.scandir(fd) as entries:
                names = sorted(
                    e.name
                    for e in entries
                    if e.name.endswith(".md") and AGENT_NAME_RE.match(e.name[:-3]) and not e.is_symlink()
                )
            for name in names[:MAX_DEFINITIONS]:
                try:
                    raw = safefs.read_regular_file(
                        fd, name, MAX_DEFINITION_BYTES, paths.agents_dir(root) / name
                    )
                except (safefs.UnsafePathError, FileNotFoundError):
                    continue  # a link, a FIFO, too big, or gone: not a definition
                found[name] = sanitized_definition(raw.decode("utf-8", "replace"))
    except safefs.UnsafePathError as exc:
        if exc.reason == "does not exist":
            return {}
        raise UnsafeHostPath(exc.path, exc.reason) from exc
    return found


def plan_layout(spec: LayoutSpec) -> ContainerLayout:
    """Compute binds, masks, overlays and environment for ``spec`` (reads the project; writes nothing)."""
    root = spec.root
    if ":" in str(root):
        raise ConfigError(f"project root {root} contains ':', which Docker bind mounts cannot express")
    proj = container_project_dir(root)
    own_rel = f".claude/users/{spec.agent}"
    overlay_dir = paths.agent_overlay_dir(root, spec.agent)
    config_dir = paths.agent_container_dir(root, spec.agent)

    overlays: dict[str, str] = {}
    binds: list[Bind] = [Bind(str(root), proj, read_only=True)]
    stubs: dict[str, str] = {}

    def overlay(name: str, content: str, target_rel: str, stub: str | None) -> None:
        overlays[name] = content
        binds.append(Bind(str(overlay_dir / name), f"{proj}/{target_rel}", read_only=True))
        if stub is not None:
            stubs[target_rel] = stub

    overlay("mcp.json", json.dumps(mcp_config(spec), indent=2) + "\n", ".mcp.json", '{"mcpServers": {}}\n')
    settings = json.dumps(agent_settings(read_person_settings(paths.person_settings_file())), indent=2) + "\n"
    overlay("settings.json", settings, ".claude/settings.json", None)
    overlay("settings.local.json", settings, ".claude/settings.local.json", None)
    if spec.agent != "claude":
        definition = read_definition(root, spec.agent)
        if definition is not None:
            overlay("CLAUDE.md", definition, "CLAUDE.md", "")
    definitions = read_definitions(root)
    for name, content in definitions.items():
        overlays[f"{AGENTS_OVERLAY}/{name}"] = content
    binds.append(Bind(str(overlay_dir / AGENTS_OVERLAY), f"{proj}/.claude/agents", read_only=True))

    # Per agent, so no folder is writable by two agents (a channel between them otherwise).
    own_sessions = f".claude/sessions/{spec.agent}"
    project_dirs = (
        HostDir(f"{own_rel}/workspace", hand_over=True),
        HostDir(f"{own_rel}/inbox", hand_over=False),
        HostDir(".claude/sessions", hand_over=False),
        HostDir(own_sessions, hand_over=True),
        HostDir(".agentdock", hand_over=False, mode=0o700),
    )
    binds += [
        Bind(str(root / own_rel / "workspace"), f"{proj}/{own_rel}/workspace", read_only=False),
        Bind(str(root / own_rel / "inbox"), f"{proj}/{own_rel}/inbox", read_only=True),
        Bind(str(paths.sessions_dir(root)), f"{proj}/.claude/sessions", read_only=True),
        Bind(str(root / own_sessions), f"{proj}/{own_sessions}", read_only=False),
        Bind(str(config_dir), CONTAINER_CONFIG_DIR, read_only=False),
    ]
    own_projects: tuple[Path, ...] = ()
    if isinstance(spec.projects, Path):
        own_projects = (spec.projects / spec.agent,)
        binds.append(Bind(str(own_projects[0]), "/projects", read_only=False))
    else:
        binds.append(Bind(f"{spec.projects}-{spec.agent}", "/projects", read_only=False, volume=True))
    if spec.ssh_dir is not None and spec.ssh_dir.is_dir():
        binds.append(Bind(str(spec.ssh_dir), f"{CONTAINER_HOME}/.ssh", read_only=True))

    tmpfs = {f"{proj}/.claude": MASK_TMPFS, f"{proj}/.agentdock": MASK_TMPFS}
    environment = {
        "AGENTDOCK_AGENT": spec.agent,
        "AGENTDOCK_PROJECT_DIR": proj,
        "CLAUDE_CONFIG_DIR": CONTAINER_CONFIG_DIR,
        **_roster_pin(root),
    }
    return ContainerLayout(
        project_dir=proj,
        binds=tuple(binds),
        tmpfs=tmpfs,
        environment=environment,
        overlay_dir=overlay_dir,
        config_dir=config_dir,
        overlays=overlays,
        stubs=stubs,
        project_dirs=project_dirs,
        checked=(".mcp.json", "CLAUDE.md"),
        root=root,
        own_dirs=own_projects,
    )


def _roster_pin(root: Path) -> dict[str, str]:
    """The roster digest the host confirmed, for the container's own read-only ``qms`` (its copy of
    agentdock's private state is masked); nothing when the host has none confirmed."""
    try:
        digest = Roster(root).pinned_digest()
    except (QmsError, OSError):
        return {}
    return {PIN_ENV: digest} if digest else {}
