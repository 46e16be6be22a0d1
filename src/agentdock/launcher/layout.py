"""The filesystem an agent sees inside its container — computed, not improvised.

::

    /<project>                               project root, read-only (working dir)
    /<project>/.claude/users                 empty read-only tmpfs: other agents' folders are absent
    /<project>/.claude/users/<agent>/workspace   read-write (checkouts land here)
    /<project>/.claude/users/<agent>/inbox   read-only (tasks routed to the agent)
    /<project>/.claude/sessions              read-only (the project's), other agents' notes visible
    /<project>/.claude/sessions/<agent>      read-write: this agent's own session notes
    /<project>/.agentdock                    empty read-only tmpfs: the token store is absent
    /<project>/.mcp.json                     overlay: qms + git through /proxy/mcp_proxy.py, own token
    /<project>/.claude/settings.local.json   overlay: project MCP servers enabled
    /<project>/CLAUDE.md                     overlay: .claude/agents/<agent>.md (agents other than claude)
    /home/agent/.claude                      the agent's Claude config dir (CLAUDE_CONFIG_DIR), read-write
    /projects                                read-write, the agent's own: volume <name>-<agent>,
                                             or <host folder>/<agent>
    /home/agent/.ssh                         read-only, when the host user has one

Overlay files are written to ``<root>/.agentdock/overlays/<agent>/`` (masked in
every container).  Docker cannot create a mount point inside a read-only bind
mount, so a missing overlay target gets an inert stub in the project on the
host (``{"mcpServers": {}}`` for ``.mcp.json``, ``{}`` for settings, an empty
``CLAUDE.md``); `plan_layout` lists them so the caller can say so.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentdock import paths
from agentdock.defaults import GIT_PORT, QMS_PORT
from agentdock.launcher.errors import ConfigError
from agentdock.launcher.project import container_project_dir

__all__ = [
    "CONTAINER_HOME",
    "MCP_SERVER_NAMES",
    "Bind",
    "ContainerLayout",
    "LayoutSpec",
    "mcp_config",
    "plan_layout",
    "prepare_host",
    "settings_local",
]

CONTAINER_HOME = "/home/agent"
CONTAINER_CONFIG_DIR = f"{CONTAINER_HOME}/.claude"
PROXY_PATH = "/proxy/mcp_proxy.py"
MCP_SERVER_NAMES = ("qms", "git")
#: tmpfs options of the masks: empty, read-only, tiny.
MASK_TMPFS = "ro,size=64k,mode=0755"


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
class ContainerLayout:
    project_dir: str
    binds: tuple[Bind, ...]
    tmpfs: dict[str, str]
    environment: dict[str, str]
    overlay_dir: Path
    overlays: dict[str, str]  # overlay file on host -> its content
    stubs: tuple[Path, ...]  # missing overlay targets to create on the host
    writable_dirs: tuple[Path, ...]  # host folders the container user must own
    extra: dict[str, Any] = field(default_factory=dict)


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


def settings_local(existing: dict[str, Any] | None) -> dict[str, Any]:
    """The project's own ``settings.local.json`` (if any) with the MCP servers enabled and allowed."""
    settings = dict(existing or {})
    settings["enableAllProjectMcpServers"] = True
    settings["enabledMcpjsonServers"] = list(MCP_SERVER_NAMES)
    permissions = dict(settings.get("permissions") or {})
    allow = [str(a) for a in permissions.get("allow") or []]
    allow += [f"mcp__{name}" for name in MCP_SERVER_NAMES if f"mcp__{name}" not in allow]
    permissions["allow"] = allow
    settings["permissions"] = permissions
    return settings


def _read_json_object(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def plan_layout(spec: LayoutSpec) -> ContainerLayout:
    """Compute binds, masks, overlays and environment for ``spec`` (reads the project; writes nothing)."""
    root = spec.root
    if ":" in str(root):
        raise ConfigError(f"project root {root} contains ':', which Docker bind mounts cannot express")
    proj = container_project_dir(root)
    users_in = f"{proj}/.claude/users"
    own_in = f"{users_in}/{spec.agent}"
    overlay_dir = paths.state_dir(root) / "overlays" / spec.agent

    overlays: dict[str, str] = {}
    binds: list[Bind] = [Bind(str(root), proj, read_only=True)]
    stubs: list[Path] = []

    def overlay(name: str, content: str, target_rel: str, stub: str) -> None:
        host_file = overlay_dir / name
        overlays[str(host_file)] = content
        binds.append(Bind(str(host_file), f"{proj}/{target_rel}", read_only=True))
        if not (root / target_rel).exists():
            stubs.append(root / target_rel)
            overlays[str(root / target_rel)] = stub

    overlay("mcp.json", json.dumps(mcp_config(spec), indent=2) + "\n", ".mcp.json", '{"mcpServers": {}}\n')
    existing = _read_json_object(root / ".claude" / "settings.local.json")
    overlay(
        "settings.local.json",
        json.dumps(settings_local(existing), indent=2) + "\n",
        ".claude/settings.local.json",
        "{}\n",
    )
    definition = paths.agents_dir(root) / f"{spec.agent}.md"
    if spec.agent != "claude" and definition.is_file():
        overlay("CLAUDE.md", definition.read_text(encoding="utf-8"), "CLAUDE.md", "")

    workspace = paths.agent_workspace_dir(root, spec.agent)
    inbox = paths.agent_inbox_dir(root, spec.agent)
    # Per agent, so no folder is writable by two agents (a channel between them otherwise).
    sessions = paths.sessions_dir(root) / spec.agent
    config = paths.agent_container_dir(root, spec.agent)
    binds += [
        Bind(str(workspace), f"{own_in}/workspace", read_only=False),
        Bind(str(inbox), f"{own_in}/inbox", read_only=True),
        Bind(str(sessions), f"{proj}/.claude/sessions/{spec.agent}", read_only=False),
        Bind(str(config), CONTAINER_CONFIG_DIR, read_only=False),
    ]
    own_projects: tuple[Path, ...] = ()
    if isinstance(spec.projects, Path):
        own_projects = (spec.projects / spec.agent,)
        binds.append(Bind(str(own_projects[0]), "/projects", read_only=False))
    else:
        binds.append(Bind(f"{spec.projects}-{spec.agent}", "/projects", read_only=False, volume=True))
    if spec.ssh_dir is not None and spec.ssh_dir.is_dir():
        binds.append(Bind(str(spec.ssh_dir), f"{CONTAINER_HOME}/.ssh", read_only=True))

    tmpfs = {users_in: MASK_TMPFS, f"{proj}/.agentdock": MASK_TMPFS}
    environment = {
        "AGENTDOCK_AGENT": spec.agent,
        "AGENTDOCK_PROJECT_DIR": proj,
        "CLAUDE_CONFIG_DIR": CONTAINER_CONFIG_DIR,
    }
    return ContainerLayout(
        project_dir=proj,
        binds=tuple(binds),
        tmpfs=tmpfs,
        environment=environment,
        overlay_dir=overlay_dir,
        overlays=overlays,
        stubs=tuple(stubs),
        writable_dirs=(workspace, sessions, config, inbox, *own_projects),
    )


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    os.chown(path, uid, gid)
    if path.is_dir():
        for dirpath, dirnames, filenames in os.walk(path):
            for name in dirnames + filenames:
                os.chown(os.path.join(dirpath, name), uid, gid, follow_symlinks=False)


def prepare_host(layout: ContainerLayout, *, uid: int, gid: int) -> None:
    """Create the folders, overlay files and mount-point stubs ``layout`` needs on the host.

    When the launcher runs as root and the container user is not root, the
    agent's writable folders and its overlays are handed to the container user
    (root keeps full access); otherwise ownership already matches.
    """
    for folder in layout.writable_dirs:
        folder.mkdir(parents=True, exist_ok=True)
    layout.overlay_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    stubs = set(layout.stubs)
    for name, content in layout.overlays.items():
        target = Path(name)
        if target in stubs:
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                target.write_text(content, encoding="utf-8")
            continue
        tmp = target.with_name(target.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        os.replace(tmp, target)
    if os.geteuid() == 0 and uid != 0:
        for folder in (*layout.writable_dirs, layout.overlay_dir):
            _chown_tree(folder, uid, gid)
