"""One contract for every console script: exit codes, error lines, Ctrl-C, log format.

Each entry point (``agentdock``, ``qms``, ``qms-mcp``, ``git-mcp``, ``mcp-proxy`` and the
``agentdock`` subcommands) hands its body to :func:`run_cli`::

    def main(argv=None) -> int:
        return run_cli("qms", lambda: _main(argv), errors={QmsError: EXIT_FAILURE})

so that, everywhere:

========================================  ===========================================
what happened                              exit code, stderr
========================================  ===========================================
the body returned N                        N
``--help`` / ``--version`` (argparse)      0
bad usage (argparse, :class:`UsageError`)  2, ``prog: <what is wrong>``
a package error named in ``errors``        its code, ``prog: <the error's message>``
Ctrl-C                                     130, ``prog: interrupted``
========================================  ===========================================

Logs go to stderr in :data:`LOG_FORMAT` (:func:`setup_logging`); stdout is for results.
A leaf module: stdlib only, so the proxy's start-up pays nothing for it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Mapping
from typing import TextIO

__all__ = [
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "LOG_FORMAT",
    "UsageError",
    "run_cli",
    "setup_logging",
]

EXIT_OK = 0
#: A refusal or a failure the command reports (the package's own error).
EXIT_FAILURE = 1
#: The command line was wrong: nothing was attempted.
EXIT_USAGE = 2
#: 128 + SIGINT.
EXIT_INTERRUPTED = 130

#: One line per record, with the pid: several proxies of one Claude Code session share a log.
LOG_FORMAT = "%(asctime)s %(name)s[%(process)d] %(levelname)s %(message)s"


class UsageError(Exception):
    """The command line is wrong in a way argparse cannot see (a conflicting pair, a bad path)."""


def setup_logging(
    level: str | int = "INFO", *, stream: TextIO | None = None, handler: logging.Handler | None = None
) -> None:
    """Root logging in the one format, to ``handler`` or ``stream`` (default stderr)."""
    chosen = handler or logging.StreamHandler(stream or sys.stderr)
    chosen.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(chosen)
    root.setLevel(level.upper() if isinstance(level, str) else level)


def _code_for(exc: BaseException, errors: Mapping[type[BaseException], int]) -> int | None:
    for cls in type(exc).__mro__:  # the most specific listed class wins
        if cls in errors:
            return errors[cls]
    return None


def run_cli(
    prog: str,
    body: Callable[[], int],
    *,
    errors: Mapping[type[BaseException], int] | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run ``body`` under the contract in this module's docstring and return the exit code."""
    listed = dict(errors or {})
    err = stderr or sys.stderr
    try:
        return body()
    except SystemExit as exc:  # argparse: --help/--version exit 0; a usage error exits 2 (already printed)
        if exc.code is None:
            return EXIT_OK
        if isinstance(exc.code, int):
            return exc.code
        print(f"{prog}: {exc.code}", file=err)
        return EXIT_USAGE
    except UsageError as exc:
        print(f"{prog}: {exc}", file=err)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=err)
        return EXIT_INTERRUPTED
    except Exception as exc:
        code = _code_for(exc, listed)
        if code is None:
            raise
        print(f"{prog}: {exc}", file=err)
        return code
