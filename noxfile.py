"""nox sessions for agentdock.

``nox`` (no arguments) runs ``tests``: unit and integration together.  Every
session installs the project into its own virtualenv, so the only thing a fresh
machine needs is Python >= 3.11 (``./test.sh`` bootstraps nox itself).

Arguments after ``--`` are passed to the tool the session runs, e.g.
``nox -s unit -- -k proxy`` or ``nox -s soak -- --launches 200 --faults flaky``.
"""

from __future__ import annotations

import os

import nox

nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True

PYTHON = os.environ.get("AGENTDOCK_NOX_PYTHON", "3.11")
PYTEST = ["pytest", "-p", "no:cacheprovider"]


def _install(session: nox.Session, extras: str = "test") -> None:
    session.install("-e", f".[{extras}]")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Unit, integration and security (attack) tests (integration and security need Docker; see README)."""
    _install(session)
    session.run(*PYTEST, "tests/unit", "tests/integration", "tests/security", *session.posargs)


@nox.session(python=PYTHON)
def unit(session: nox.Session) -> None:
    """Fast tests: no network beyond in-process, no Docker."""
    _install(session)
    session.run(*PYTEST, "tests/unit", *session.posargs)


@nox.session(python=PYTHON)
def integration(session: nox.Session) -> None:
    """Real servers on 127.0.0.1, real subprocesses, real Docker."""
    _install(session)
    session.run(*PYTEST, "tests/integration", *session.posargs)


@nox.session(python=PYTHON)
def soak(session: nox.Session) -> None:
    """Launch real agent containers again and again; report reliability with confidence intervals."""
    _install(session)
    args = session.posargs or ["--launches", "40", "--report", "reports/soak"]
    session.run("agentdock", "soak", *args)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Side-by-side benchmarks, printed as one table of ratios."""
    _install(session)
    session.run("python", "benchmarks/run.py", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", "src", "tests", "benchmarks", "noxfile.py", "proxy", "scripts")
    session.run("ruff", "format", "--check", "src", "tests", "benchmarks", "noxfile.py", "proxy", "scripts")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy, strict on src/."""
    _install(session, "dev")
    session.run("mypy", *session.posargs)


@nox.session(python=PYTHON)
def conformance(session: nox.Session) -> None:
    """The official @modelcontextprotocol/conformance suite against the proxy and qms-mcp (needs Node 22)."""
    _install(session)
    session.run("python", "scripts/conformance.py", *session.posargs)
