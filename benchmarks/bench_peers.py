"""stdio -> Streamable HTTP bridges side by side: agentdock's proxy and its peers, one run.

Subjects, all against the same real MCP server (the SDK's ``MCPServer`` behind
agentdock's bearer-token middleware, in its own process on 127.0.0.1):

* ``direct``      the SDK's own Streamable HTTP client (no bridge): the baseline
* ``agentdock``   our proxy (``proxy/mcp_proxy.py``, the file the image runs), spawned as a stdio server
* ``mcp-proxy``   the PyPI package, installed into a temporary venv for this run
* ``mcp-remote``  the npm package, installed into a temporary prefix for this run

Measures per subject: cold start (spawn + initialize, median of a few), one
tool call's round trip (p50 and p95 over sequential calls), and throughput
(calls per second with 8 and with 32 in flight).  Ratios: latency and throughput
against ``direct``; cold start against ``agentdock``.  A peer that cannot be
installed or run still gets its rows, saying why.

The subjects are measured interleaved, not one after another: cold starts
round-robin, then every subject's session is held open and ``ROUNDS`` rounds each
give every subject (in a rotated order) its share of sequential calls and one
burst at each concurrency. A throughput row is the median round, with the
rounds' range in its note (and all rounds in ``results.json``).

Run alone: ``.venv/bin/python benchmarks/run.py --only peers``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

COLD_STARTS = 5
ROUNDS = 5  # interleaved rounds over every subject (see _measure_all)
SEQUENTIAL_CALLS = 150  # in all, SEQUENTIAL_CALLS / ROUNDS per round
CONCURRENT_TASKS = 8
CALLS_PER_TASK = 20
WIDE_TASKS = 32  # the concurrency of the side-by-side runs
WIDE_CALLS_PER_TASK = 20
BURSTS = ((CONCURRENT_TASKS, CALLS_PER_TASK), (WIDE_TASKS, WIDE_CALLS_PER_TASK))
PAYLOAD = "x" * 1024
INSTALL_TIMEOUT_S = 240
STEP_TIMEOUT_S = 120
AGENT = "bench"


# -- the server ---------------------------------------------------------------------------------


def _serve(root: str) -> None:
    """Child process: an MCPServer with an ``echo`` tool, bearer-authenticated, on 127.0.0.1:0."""
    from mcp.server.mcpserver import MCPServer

    from agentdock.mcphost import TokenStore
    from agentdock.mcphost.http import build_app
    from agentdock.mcphost.limits import Limits
    from agentdock.mcphost.serve import serve

    server = MCPServer("bench-echo")

    @server.tool()
    def echo(text: str) -> str:
        """Return the text unchanged."""
        return text

    # Every subject holds its session (and its keep-alive connections) open for the whole interleaved
    # run, all from 127.0.0.1: the default cap of 64 connections per peer address would refuse some.
    limits = Limits(max_connections_per_peer=Limits().max_connections)
    serve(build_app(server, TokenStore(Path(root))), ["127.0.0.1"], 0, name="bench-echo", limits=limits)


@contextlib.contextmanager
def bench_server(root: Path) -> Iterator[tuple[str, str]]:
    """Start the server process; yield (url, token); stop it."""
    from agentdock.mcphost import TokenStore

    (root / ".claude" / "agents").mkdir(parents=True)
    (root / ".claude" / "agents" / f"{AGENT}.md").write_text("benchmark client\n")
    # Tokens live in agentdock's data folder, found from the environment: the server (HOME=root)
    # and this process must look in the same one, and a benchmark must not write the user's own.
    data = root.parent / "agentdock-data"
    previous = os.environ.get("AGENTDOCK_DATA_DIR")
    os.environ["AGENTDOCK_DATA_DIR"] = str(data)
    try:
        token = TokenStore(root).ensure(AGENT)
    finally:
        if previous is None:
            del os.environ["AGENTDOCK_DATA_DIR"]
        else:
            os.environ["AGENTDOCK_DATA_DIR"] = previous
    # The server's log goes to a file, not a pipe: a pipe nobody reads after start-up would fill
    # and stall the server mid-run.
    log_path = root.parent / "server.stderr.log"
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(root)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log_file,
            env={**_child_env(root), "AGENTDOCK_DATA_DIR": str(data)},
        )
    try:
        deadline = time.monotonic() + 30
        url = None
        while url is None and time.monotonic() < deadline and process.poll() is None:
            for line in log_path.read_text(errors="replace").splitlines():
                if "listening on " in line:
                    url = line.split("listening on ", 1)[1].strip()
                    break
            else:
                time.sleep(0.05)
        if url is None:
            tail = log_path.read_text(errors="replace")[-500:]
            raise RuntimeError(f"bench server did not start (exit {process.poll()}): {tail}")
        yield url, token
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _child_env(home: Path) -> dict[str, str]:
    keep = ("PATH", "LANG", "LC_ALL", "SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS", "PIP_INDEX_URL", "PIP_CERT")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env["HOME"] = str(home)
    return env


# -- the subjects ---------------------------------------------------------------------------------


def _install_mcp_proxy(where: Path) -> list[str]:
    venv = where / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=INSTALL_TIMEOUT_S)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", "mcp-proxy"],
        check=True,
        timeout=INSTALL_TIMEOUT_S,
        capture_output=True,
    )
    return [str(venv / "bin" / "mcp-proxy")]


def _install_mcp_remote(where: Path) -> list[str]:
    npm = shutil.which("npm")
    node = shutil.which("node")
    if npm is None or node is None:
        raise RuntimeError("node/npm not found on PATH")
    prefix = where / "npm"
    subprocess.run(
        [
            npm,
            "install",
            "--prefix",
            str(prefix),
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            "mcp-remote",
        ],
        check=True,
        timeout=INSTALL_TIMEOUT_S,
        capture_output=True,
    )
    return [str(prefix / "node_modules" / ".bin" / "mcp-remote")]


def _npm_version(where: Path) -> str:
    manifest = where / "npm" / "node_modules" / "mcp-remote" / "package.json"
    try:
        return "mcp-remote " + str(json.loads(manifest.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return "mcp-remote ?"


def _version(command: list[str], *args: str) -> str:
    try:
        out = subprocess.run([*command, *args], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr).strip() else "?"


def _bridge_args(subject: str, command: list[str], url: str, token: str) -> list[str]:
    if subject == "agentdock":
        return [*command, url, "--header", f"Authorization=Bearer {token}"]
    if subject == "mcp-proxy":
        return [*command, "--transport", "streamablehttp", "-H", "Authorization", f"Bearer {token}", url]
    if subject == "mcp-remote":
        return [*command, url, "--transport", "http-only", "--header", f"Authorization: Bearer {token}"]
    raise ValueError(subject)


@contextlib.asynccontextmanager
async def _session(
    subject: str, argv: list[str] | None, url: str, token: str, home: Path
) -> AsyncIterator[ClientSession]:
    if argv is None:  # direct
        http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
        async with (
            http,
            streamable_http_client(url, http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            yield session
        return
    params = StdioServerParameters(command=argv[0], args=argv[1:], env=_child_env(home))
    with (home / f"{subject}.stderr.log").open("a") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            yield session


async def _echo(session: ClientSession) -> None:
    result = await session.call_tool("echo", {"text": PAYLOAD})
    if result.is_error:
        raise RuntimeError(f"echo failed: {result.content}")


def _failure(exc: BaseException) -> str:
    return f"failed: {type(exc).__name__}: {exc}"[:160]


def _rotated(subjects: list[str], turn: int) -> list[str]:
    """Each round starts with the next subject, so none always runs first (or right after another)."""
    if not subjects:
        return []
    k = turn % len(subjects)
    return subjects[k:] + subjects[:k]


class _Held:
    """One subject's session, held open by its own task for the whole interleaved run."""

    def __init__(self) -> None:
        self.session: ClientSession | None = None
        self.close = anyio.Event()


async def _hold(
    subject: str,
    argv: list[str] | None,
    url: str,
    token: str,
    home: Path,
    held: _Held,
    errors: dict[str, str],
    *,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    started = False
    try:
        async with _session(subject, argv, url, token, home) as session:
            with anyio.fail_after(STEP_TIMEOUT_S):
                await session.initialize()
                await _echo(session)  # warm up
            held.session = session
            started = True
            task_status.started()
            await held.close.wait()
    except Exception as exc:  # one subject failing must not stop the others
        errors.setdefault(subject, _failure(exc))
        held.session = None
        if not started:
            task_status.started()


async def _cold_start(subject: str, argv: list[str] | None, url: str, token: str, home: Path) -> float:
    began = time.perf_counter()
    with anyio.fail_after(STEP_TIMEOUT_S):
        async with _session(subject, argv, url, token, home) as session:
            await session.initialize()
            return (time.perf_counter() - began) * 1000.0


async def _sequential(session: ClientSession, calls: int) -> list[float]:
    latencies: list[float] = []
    with anyio.fail_after(STEP_TIMEOUT_S):
        for _ in range(calls):
            began = time.perf_counter()
            await _echo(session)
            latencies.append((time.perf_counter() - began) * 1000.0)
    return latencies


async def _burst(session: ClientSession, tasks: int, calls: int) -> float:
    """Calls per second with ``tasks`` callers in flight, each making ``calls`` calls in a row."""

    async def caller() -> None:
        for _ in range(calls):
            await _echo(session)

    began = time.perf_counter()
    with anyio.fail_after(STEP_TIMEOUT_S):
        async with anyio.create_task_group() as group:
            for _ in range(tasks):
                group.start_soon(caller)
    return tasks * calls / (time.perf_counter() - began)


async def _measure_all(
    argvs: dict[str, list[str] | None], url: str, token: str, home: Path, errors: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """Every subject, interleaved: cold starts round-robin, then ROUNDS rounds over sessions held open.

    Interleaving puts each subject under the same machine conditions: a drift in the
    machine's speed during the run (another process, frequency scaling) touches every
    subject's rounds alike instead of the subject that happened to run then. Each
    round measures SEQUENTIAL_CALLS / ROUNDS sequential calls and one burst at each
    concurrency per subject; the rows report the median round, its spread in the note.
    """
    live = list(argvs)
    cold: dict[str, list[float]] = {s: [] for s in live}
    for turn in range(COLD_STARTS):
        for subject in _rotated(live, turn):
            if subject in errors:
                continue
            try:
                cold[subject].append(await _cold_start(subject, argvs[subject], url, token, home))
            except Exception as exc:
                errors[subject] = _failure(exc)
    live = [s for s in live if s not in errors]
    latencies: dict[str, list[float]] = {s: [] for s in live}
    rates: dict[tuple[str, int], list[float]] = {}
    async with anyio.create_task_group() as group:
        held = {s: _Held() for s in live}
        for subject in live:
            await group.start(
                partial(_hold, subject, argvs[subject], url, token, home, held[subject], errors)
            )
        for turn in range(ROUNDS):
            for subject in _rotated(live, turn):
                session = held[subject].session
                if session is None:
                    continue
                try:
                    latencies[subject] += await _sequential(session, SEQUENTIAL_CALLS // ROUNDS)
                    for tasks, calls in BURSTS:
                        rates.setdefault((subject, tasks), []).append(await _burst(session, tasks, calls))
                except Exception as exc:
                    errors[subject] = _failure(exc)
                    held[subject].session = None
                    held[subject].close.set()
        for one in held.values():
            one.close.set()
    results: dict[str, dict[str, Any]] = {}
    for subject in argvs:
        if subject in errors:
            continue
        quantiles = statistics.quantiles(latencies[subject], n=100, method="inclusive")
        results[subject] = {
            "cold_start_ms": statistics.median(cold[subject]),
            "call_p50_ms": statistics.median(latencies[subject]),
            "call_p95_ms": quantiles[94],
            "throughput": statistics.median(rates[subject, CONCURRENT_TASKS]),
            "throughput_wide": statistics.median(rates[subject, WIDE_TASKS]),
            "rounds": {
                "throughput": rates[subject, CONCURRENT_TASKS],
                "throughput_wide": rates[subject, WIDE_TASKS],
            },
        }
    return results


MEASURES: tuple[tuple[str, str, str, str], ...] = (
    # key, row name, unit, ratio baseline
    ("cold_start_ms", "bridge cold start (spawn + initialize, median)", "ms", "agentdock"),
    ("call_p50_ms", "tool call round trip p50", "ms", "direct"),
    ("call_p95_ms", "tool call round trip p95", "ms", "direct"),
    ("throughput", f"tool calls/s, {CONCURRENT_TASKS} in flight", "calls/s", "direct"),
    ("throughput_wide", f"tool calls/s, {WIDE_TASKS} in flight", "calls/s", "direct"),
)


def _rows(results: dict[str, dict[str, Any]], notes: dict[str, str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for key, name, unit, baseline in MEASURES:
        base = results.get(baseline, {}).get(key)
        for subject in ("direct", "agentdock", "mcp-proxy", "mcp-remote"):
            if subject == "direct" and key == "cold_start_ms":
                note = "no process: HTTP connect + initialize"
            else:
                note = notes.get(subject, "")
            value = results.get(subject, {}).get(key)
            rounds = results.get(subject, {}).get("rounds", {}).get(key)
            spread = (
                f"median of {len(rounds)} interleaved rounds, {min(rounds):,.0f}-{max(rounds):,.0f}"
                if rounds
                else ""
            )
            note = "; ".join(part for part in (note, spread) if part)
            ratio = value / base if isinstance(value, float) and isinstance(base, float) and base else None
            row: dict[str, Any] = {
                "name": name,
                "subject": subject,
                "value": value,
                "unit": unit,
                "note": note,
            }
            if rounds:
                row["rounds"] = rounds
            if ratio is not None:
                row["ratio"] = ratio
                suffix = "baseline" if subject == baseline else f"ratio vs {baseline}"
                row["note"] = (note + "; " if note else "") + suffix
            rows.append(row)
    return rows


def run() -> list[dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    notes: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="agentdock-bench-peers-") as tmp:
        work = Path(tmp)
        commands: dict[str, list[str] | None] = {"direct": None}
        ours = Path(__file__).resolve().parent.parent / "proxy" / "mcp_proxy.py"
        if ours.is_file():
            commands["agentdock"] = [sys.executable, str(ours)]
            notes["agentdock"] = "proxy/mcp_proxy.py"
        else:
            notes["agentdock"] = f"not installed: {ours} is missing"
        for subject, install in (("mcp-proxy", _install_mcp_proxy), ("mcp-remote", _install_mcp_remote)):
            try:
                commands[subject] = install(work)
                notes[subject] = (
                    _version(commands[subject] or [], "--version") if subject == "mcp-proxy" else ""
                )
            except (OSError, subprocess.SubprocessError, RuntimeError) as exc:
                detail = getattr(exc, "stderr", None) or exc
                notes[subject] = f"not installed: {str(detail).strip().splitlines()[-1][:160]}"
        with bench_server(work / "project") as (url, token):
            argvs = {
                subject: None if command is None else _bridge_args(subject, command, url, token)
                for subject, command in commands.items()
                if not notes.get(subject, "").startswith("not installed")
            }
            errors: dict[str, str] = {}
            results = anyio.run(_measure_all, argvs, url, token, work, errors)
            for subject, error in errors.items():  # one subject failing does not hide the others
                log = work / f"{subject}.stderr.log"
                tail = log.read_text().strip().splitlines()[-1:] if log.exists() else []
                notes[subject] = error + (f" ({tail[0][:120]})" if tail else "")
    return _rows(results, notes)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        _serve(sys.argv[2])
    else:
        from rich.pretty import pprint

        pprint(run())
