"""Defaults with one home: ports, image tag, data directory, MCP protocol version, child environment.

A leaf module (it imports nothing else from agentdock), so every package — the proxy and
the harness included — may use it.  Anything a user can override (``--qms-port``,
``AGENTDOCK_DATA_DIR``, ``--image``) starts from the value here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = [
    "CHILD_ENV_KEYS",
    "CHILD_ENV_PREFIXES",
    "GIT_PORT",
    "IMAGE_TAG",
    "PROTOCOL_VERSION",
    "QMS_PORT",
    "child_env",
    "data_dir",
]

#: Where ``qms-mcp`` and ``git-mcp`` listen unless told otherwise.
QMS_PORT = 8000
GIT_PORT = 8001

#: The agent image's tag.
IMAGE_TAG = "claude-agent"

#: The MCP protocol revision agentdock's own clients offer in ``initialize`` (the launcher's
#: probe, ``mcp-proxy --check``); servers answer with the revision they speak.
PROTOCOL_VERSION = "2025-11-25"

#: Variables a child program may inherit; everything else (tokens, secrets, the caller's
#: odd settings) stays behind.  Desktop, tmux and Docker variables are here because the
#: programs we start need them to find the display, the tmux server and the engine.
CHILD_ENV_KEYS: frozenset[str] = frozenset(
    {
        "VIRTUAL_ENV",
        # CA bundles: a child building the image must trust what its parent trusted (launcher.hostcerts)
        "SSL_CERT_FILE",
        "REQUESTS_CA_BUNDLE",
        "NODE_EXTRA_CA_CERTS",
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "LANG",
        "LC_ALL",
        "LC_CTYPE",
        "TERM",
        "COLORTERM",
        "TMPDIR",
        "TZ",
        "DISPLAY",
        "WAYLAND_DISPLAY",
        "XDG_RUNTIME_DIR",
        "XDG_SESSION_TYPE",
        "DBUS_SESSION_BUS_ADDRESS",
        "XAUTHORITY",
        "TMUX",
        "TMUX_PANE",
        "TMUX_TMPDIR",
        "DOCKER_HOST",
        "DOCKER_CONTEXT",
        "DOCKER_CONFIG",
        "DOCKER_CERT_PATH",
        "DOCKER_TLS_VERIFY",
        "CI",
        "MSYSTEM",
        "WSL_DISTRO_NAME",
        "WSLENV",
        "SYSTEMROOT",
        "COMSPEC",
    }
)


#: Prefixes of variables that are agentdock's own settings and pass to its children.
CHILD_ENV_PREFIXES: tuple[str, ...] = ("AGENTDOCK_", "QMS_")


def child_env(
    environ: Mapping[str, str] | None = None, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The allow-listed part of ``environ`` (default: this process's), then ``extra`` on top."""
    source = os.environ if environ is None else environ
    env = {k: v for k, v in source.items() if k in CHILD_ENV_KEYS or k.startswith(CHILD_ENV_PREFIXES)}
    if extra:
        env.update(extra)
    return env


def data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """agentdock's per-user data directory, outside every project.

    ``$AGENTDOCK_DATA_DIR``, else ``$XDG_DATA_HOME/agentdock``, else ``~/.local/share/agentdock``.
    """
    env = os.environ if environ is None else environ
    if env.get("AGENTDOCK_DATA_DIR"):
        # absolute, so every process (servers start in the project root) means the same folder
        return Path(env["AGENTDOCK_DATA_DIR"]).expanduser().absolute()
    xdg = env.get("XDG_DATA_HOME")  # the XDG spec: a relative value is invalid and ignored
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return base / "agentdock"
