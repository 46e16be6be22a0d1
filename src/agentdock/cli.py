"""The ``agentdock`` command: a thin dispatcher to each package's own CLI.

Every subcommand lives in the package that owns it and is imported lazily, so
``agentdock token`` does not pay for importing Docker or the proxy.  Each
target is a ``main(argv: list[str]) -> int`` function.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from agentdock.clirun import run_cli

__all__ = ["SUBCOMMANDS", "main"]

#: subcommand -> (module, function, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "launch": (
        "agentdock.launcher.cli",
        "main",
        "start servers, image and an agent container, attach a session",
    ),
    "stop": ("agentdock.launcher.cli", "stop_main", "stop the host MCP servers started by launch"),
    "doctor": ("agentdock.launcher.cli", "doctor_main", "check each piece and say what to fix"),
    "token": ("agentdock.mcphost.cli", "main", "print (or rotate) an agent's bearer token"),
    "inbox": ("agentdock.inbox.cli", "main", "watch agents' inboxes and announce new tasks"),
    "faults": ("agentdock.harness.cli", "main", "run the fault MCP server or the TCP fault proxy by hand"),
    "soak": (
        "agentdock.soak.cli",
        "main",
        "launch real containers repeatedly and report reliability",
    ),
    "rehearse": (
        "agentdock.rehearsal.cli",
        "main",
        "run real Claude Code sessions against a scripted model (no token spent)",
    ),
}


def _usage() -> str:
    width = max(len(name) for name in SUBCOMMANDS)
    lines = ["usage: agentdock <command> [options]", "", "commands:"]
    lines += [f"  {name:<{width}}  {help_}" for name, (_, _, help_) in SUBCOMMANDS.items()]
    lines += ["", "Run `agentdock <command> --help` for a command's options."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help", "help"}:
        print(_usage())
        return 0 if args else 2
    if args[0] == "--version":
        from agentdock import __version__

        print(f"agentdock {__version__}")
        return 0
    name, rest = args[0], args[1:]
    if name not in SUBCOMMANDS:
        print(f"agentdock: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module_name, func_name, _ = SUBCOMMANDS[name]
    func = getattr(importlib.import_module(module_name), func_name)
    return run_cli(f"agentdock {name}", lambda: int(func(rest)))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
