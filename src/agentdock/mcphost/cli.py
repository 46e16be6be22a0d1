"""``agentdock token <agent> --project-root DIR [--rotate]``: print an agent's bearer token."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from agentdock.clirun import run_cli
from agentdock.mcphost.errors import AuthError
from agentdock.mcphost.migrate import migrate_legacy_secrets
from agentdock.mcphost.tokens import TokenStore

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agentdock token",
        description="Print an agent's bearer token for qms-mcp and git-mcp, creating it if absent. "
        "Token, hashes and the agent's generated config live in agentdock's data folder "
        "($AGENTDOCK_DATA_DIR, else $XDG_DATA_HOME/agentdock, else ~/.local/share/agentdock), "
        "never under the project.",
    )
    parser.add_argument("agent", help="agent name (defined in .claude/agents/<agent>.md)")
    parser.add_argument("--project-root", type=Path, default=Path.cwd(), help="project root (default: cwd)")
    parser.add_argument("--rotate", action="store_true", help="replace the token; the old one stops working")
    return parser


def _main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:
        return int(exc.code or 0)
    root = args.project_root.resolve()
    store = TokenStore(root)
    try:
        for note in migrate_legacy_secrets(root):
            print(f"agentdock token: {note}", file=sys.stderr)
        token = store.rotate(args.agent) if args.rotate else store.ensure(args.agent)
    except AuthError as exc:
        print(f"agentdock token: {exc}", file=sys.stderr)
        return 2
    print(token)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``agentdock token``: see :func:`_main`; exit codes, Ctrl-C and errors follow :mod:`agentdock.clirun`."""
    return run_cli("agentdock token", lambda: _main(argv))
