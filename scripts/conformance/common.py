"""Shared conformance plumbing: a local Node 22 + the official suite, and its results.

API (kept small on purpose; parts import only these):

``ensure_toolchain(prefix=None) -> Toolchain``
    Installs (once) the npm packages ``node@22`` and
    ``@modelcontextprotocol/conformance@<CONFORMANCE_VERSION>`` into ``prefix``
    (default ``$AGENTDOCK_CONFORMANCE_PREFIX`` or ``<repo>/.nox/conformance-node``)
    with the system ``npm``, and returns where ``node`` and the suite's entry are.
    No global install, no PATH changes outside the returned environment.

``run_suite(toolchain, args, *, out_dir, timeout_s) -> subprocess.CompletedProcess[str]``
    Runs ``node <suite> <args...> -o <out_dir>`` with an allow-listed environment
    (the local node first on PATH). For client scenarios pass
    ``["client", "--command", cmd, "--scenario", name]``; for server scenarios
    ``["server", "--url", url, "--scenario", name]``.

``collect(out_dir, scenario, completed) -> ScenarioResult``
    Reads the ``checks.json`` the suite wrote under ``out_dir`` for ``scenario``
    and turns it into a :class:`ScenarioResult` (passed = no FAILURE check and the
    suite exited 0).

``summarise(results) -> int``
    Prints one line per scenario (and each failed check) and returns the
    process exit code: 0 when everything passed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "CONFORMANCE_VERSION",
    "REPO",
    "ScenarioResult",
    "Toolchain",
    "collect",
    "ensure_toolchain",
    "run_suite",
    "summarise",
]

REPO = Path(__file__).resolve().parents[2]
CONFORMANCE_VERSION = "0.1.16"
NODE_PACKAGE = "node@22"
SUITE_PACKAGE = f"@modelcontextprotocol/conformance@{CONFORMANCE_VERSION}"
_ENV_ALLOW = (
    "HOME", "LANG", "LC_ALL", "TMPDIR", "USER",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
    "NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "npm_config_registry", "npm_config_cafile",
)  # fmt: skip


@dataclass(frozen=True)
class Toolchain:
    prefix: Path
    node: Path
    suite: Path

    def env(self, **extra: str) -> dict[str, str]:
        """An allow-listed environment with the local node first on PATH."""
        env = {k: v for k, v in os.environ.items() if k in _ENV_ALLOW}
        env["PATH"] = os.pathsep.join([str(self.node.parent), os.environ.get("PATH", "/usr/bin:/bin")])
        env.update(extra)
        return env


@dataclass
class ScenarioResult:
    part: str
    scenario: str
    passed: bool
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    checks: int = 0
    note: str = ""


def _installed(prefix: Path) -> Toolchain | None:
    node = prefix / "node_modules" / ".bin" / "node"
    suite = prefix / "node_modules" / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
    manifest = prefix / "node_modules" / "@modelcontextprotocol" / "conformance" / "package.json"
    if not (node.exists() and suite.exists() and manifest.exists()):
        return None
    if json.loads(manifest.read_text()).get("version") != CONFORMANCE_VERSION:
        return None
    return Toolchain(prefix=prefix, node=node, suite=suite)


def ensure_toolchain(prefix: Path | None = None) -> Toolchain:
    """Install Node 22 and the conformance suite into ``prefix`` unless already there."""
    prefix = prefix or Path(
        os.environ.get("AGENTDOCK_CONFORMANCE_PREFIX", REPO / ".nox" / "conformance-node")
    )
    found = _installed(prefix)
    if found is not None:
        return found
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("conformance: npm is needed to install node@22 and the suite (apt-get install npm)")
    prefix.mkdir(parents=True, exist_ok=True)
    print(f"conformance: installing {NODE_PACKAGE} and {SUITE_PACKAGE} into {prefix}", file=sys.stderr)
    env = {k: v for k, v in os.environ.items() if k in _ENV_ALLOW or k == "PATH"}
    subprocess.run(
        [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", NODE_PACKAGE, SUITE_PACKAGE],
        check=True,
        env=env,
        timeout=900,
    )
    found = _installed(prefix)
    if found is None:
        raise SystemExit(f"conformance: npm install finished but {prefix} has no node or suite")
    version = subprocess.run(
        [str(found.node), "--version"], capture_output=True, text=True, check=True
    ).stdout
    if not version.startswith("v22."):
        raise SystemExit(f"conformance: expected Node 22 from {NODE_PACKAGE}, got {version.strip()}")
    return found


def run_suite(
    toolchain: Toolchain, args: Sequence[str], *, out_dir: Path, timeout_s: float = 300
) -> subprocess.CompletedProcess[str]:
    out_dir.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [str(toolchain.node), str(toolchain.suite), *args, "-o", str(out_dir)],
        capture_output=True,
        text=True,
        env=toolchain.env(),
        timeout=timeout_s,
        check=False,
        cwd=out_dir,
    )


def collect(
    part: str, out_dir: Path, scenario: str, completed: subprocess.CompletedProcess[str]
) -> ScenarioResult:
    """The suite's verdict for ``scenario``: every check that is not SUCCESS/INFO is listed."""
    candidates = sorted(
        out_dir.glob(f"*{scenario.replace('/', '-')}*/checks.json"), key=lambda p: p.stat().st_mtime
    )
    if not candidates:
        tail = (completed.stderr or completed.stdout)[-800:]
        return ScenarioResult(
            part, scenario, False, [f"no checks.json written (exit {completed.returncode}): {tail}"]
        )
    checks = json.loads(candidates[-1].read_text())
    failures = [
        f"{c.get('name')}: {c.get('errorMessage') or c.get('description')}"
        for c in checks
        if c.get("status") == "FAILURE"
    ]
    warnings = [
        f"{c.get('name')}: {c.get('errorMessage') or c.get('description')}"
        for c in checks
        if c.get("status") == "WARNING"
    ]
    passed = not failures and completed.returncode == 0
    if completed.returncode != 0 and not failures:
        failures.append(
            f"suite exited {completed.returncode}: {(completed.stderr or completed.stdout)[-400:]}"
        )
    return ScenarioResult(part, scenario, passed, failures, warnings, checks=len(checks))


def summarise(results: Sequence[ScenarioResult]) -> int:
    width = max((len(r.scenario) for r in results), default=10)
    for r in results:
        verdict = "PASS" if r.passed else "FAIL"
        extra = f" ({len(r.warnings)} warning(s))" if r.warnings else ""
        print(f"{verdict}  {r.part:<6} {r.scenario:<{width}}  {r.checks} checks{extra} {r.note}".rstrip())
        for failure in r.failures:
            print(f"      - {failure}")
        for warning in r.warnings:
            print(f"      ~ {warning}")
    passed = sum(r.passed for r in results)
    print(f"\nconformance: {passed}/{len(results)} scenarios passed")
    return 0 if results and passed == len(results) else 1
