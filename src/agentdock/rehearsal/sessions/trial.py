"""Session trials (``agentdock soak --mode session``): whole Claude Code sessions under mid-session faults.

Setup, once per worker — so one worker's server restart never lands in
another's session: a throw-away project with its own qms-mcp and git-mcp
(127.0.0.1 only, ``--session-lifetime`` `LIFETIME_S`), and one long-lived agent
container started as ``./launch.sh`` starts one.

A trial runs the same scripted session (`plan.session_scenario`, 20 calls)
twice, once per path, in alternating order:

* **proxy** — ``claude -p`` with the launcher's own server entries (our stdio
  proxy, ``.mcp.json``'s command line) pointed at this path's fronts;
* **direct** — ``claude -p`` with Claude Code's own ``type: http`` client,
  pointed at this path's fronts.

Each path gets fresh fronts on the Docker bridge (the profile's TCP toxics,
and a controllable `BurstFront` outermost) and a fresh scripted model.  The
trial's events (`plan.draw_events`) are done between two calls while the model
holds its next ``tool_use``: restart qms-mcp, make the servers forget the
session (a ``DELETE`` with the session id the front saw), a 503 burst, a reset
of every connection, a partition, an idle gap longer than the session lifetime.

A path's session is ``ok`` when ``claude -p`` exited 0, the model sent its
closing text, every call held its expectation, and the servers' own records
(QMS audit trail, git-mcp's record) show each successful mutating call exactly
once.  Per-call outcomes go into the record's ``calls`` for the report's
per-call figures.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import asdict, dataclass, replace
from typing import Any

import anyio
import httpx

from agentdock.defaults import PROTOCOL_VERSION, child_env
from agentdock.launcher import LayoutSpec
from agentdock.launcher.layout import mcp_config
from agentdock.launcher.project import container_project_dir
from agentdock.rehearsal.audit import audit_problems
from agentdock.rehearsal.model import ScriptedModel
from agentdock.rehearsal.records import StepRecord
from agentdock.rehearsal.runner import claude_argv, claude_env
from agentdock.rehearsal.server import create_app, serve_model
from agentdock.rehearsal.sessions.plan import (
    AGENT,
    CREATES_PER_SESSION,
    SessionEvent,
    draw_events,
    session_scenario,
)
from agentdock.soak.connect import start_trial_container
from agentdock.soak.environment import SoakEnvironment, open_environment
from agentdock.soak.launch import SERVERS, Front, open_fronts, settings_for
from agentdock.soak.records import PATHS, CallResult, LaunchRecord, PathResult, clip_evidence
from agentdock.soak.runner import LaunchPlan, LaunchStep, SoakConfig

__all__ = ["LIFETIME_S", "SESSION_TIMEOUT_S", "SessionTrial", "path_result", "session_environment"]

#: The servers' session lifetime in a session soak: short, so an idle gap can outlast it in seconds.
LIFETIME_S = 6.0
#: One path's whole ``claude -p`` session may take this long.
SESSION_TIMEOUT_S = 240.0


@dataclass
class _Slot:
    env: SoakEnvironment
    layout: LayoutSpec
    container: str
    container_id: str
    workdir: str


def _call_results(steps: list[StepRecord]) -> list[CallResult]:
    return [
        CallResult(
            step=step.step,
            tool=step.tool.rsplit("__", 1)[-1],
            ok=step.outcome == "ok",
            latency_ms=step.latency_ms,
            event=step.fault,
            error=None
            if step.outcome == "ok"
            else "; ".join(step.problems) or "not run: the session stopped at an earlier failure",
            ran=step.outcome != "pending",
        )
        for step in steps
    ]


def path_result(
    steps: list[StepRecord],
    *,
    exit_code: int | None,
    finished: bool,
    problems: list[str],
    audit: list[str],
    duration_ms: float,
) -> PathResult:
    """One path's session as a `PathResult`: ok only if every call held and each ran exactly once."""
    calls = _call_results(steps)
    duplicates = sum(line.startswith("duplicate") for line in audit)
    lost = sum(line.startswith("lost") for line in audit)
    failed = next((call for call in calls if call.ran and not call.ok), None)
    failed_step = error = None
    if failed is not None:
        failed_step, error = f"call{failed.step:02d}:{failed.tool}", failed.error
    elif audit:
        failed_step, error = "audit", "; ".join(audit)
    elif exit_code != 0 or not finished or problems:
        failed_step = "session"
        error = "; ".join(problems) or f"claude -p exited {exit_code} before the closing text"
    first = calls[0].latency_ms if calls and calls[0].ok else None
    return PathResult(
        ok=failed_step is None,
        failed_step=failed_step,
        error=error,
        first_response_ms=first,
        steps_ms={"session": duration_ms},
        calls=tuple(calls),
        duplicates=duplicates,
        lost=lost,
    )


class SessionTrial:
    """The trial step (callable: ``await step(plan) -> LaunchRecord``) over per-worker slots."""

    def __init__(self, slots: list[_Slot]) -> None:
        self._slots = slots
        self._free = anyio.Semaphore(len(slots))

    @asynccontextmanager
    async def _slot(self) -> AsyncIterator[_Slot]:
        async with self._free:
            slot = self._slots.pop()
            try:
                yield slot
            finally:
                self._slots.append(slot)

    async def __call__(self, plan: LaunchPlan) -> LaunchRecord:
        started_at = time.time()
        began = time.perf_counter()
        plan = replace(plan, faults=replace(plan.faults, restart_after_ms=None))
        events = draw_events(plan.seed, plan.profile, LIFETIME_S)
        order = PATHS if plan.index % 2 == 0 else tuple(reversed(PATHS))
        results: dict[str, PathResult] = {}
        evidence: dict[str, str] = {}
        observed: dict[str, Any] = {}
        async with self._slot() as slot:
            for path in order:
                results[path], observed[path], output = await self._session(slot, plan, path, events)
                if not results[path].ok:
                    evidence[f"{path}_output"] = clip_evidence(self._redact(slot, output))
        return LaunchRecord(
            index=plan.index,
            seed=plan.seed,
            profile=plan.profile,
            started_at=started_at,
            duration_ms=round((time.perf_counter() - began) * 1000.0, 1),
            container_id=slot.container_id,
            paths=results,
            faults={
                **plan.faults.to_json(),
                "events": [asdict(event) for event in events],
                "observed": observed,
            },
            evidence=evidence,
        )

    @staticmethod
    def _redact(slot: _Slot, text: str) -> str:
        for token in slot.env.tokens.values():
            text = text.replace(token, "<token>")
        return text

    def _actions(
        self, slot: _Slot, fronts: dict[str, Front], events: tuple[SessionEvent, ...]
    ) -> dict[str, Callable[[], Awaitable[None]]]:
        """What each event does to this path (the model runs it between two calls)."""
        env = slot.env
        token = env.tokens[slot.layout.agent]

        def front_of(server: str) -> Any:
            burst = fronts[server].burst
            assert burst is not None  # open_fronts(controllable=True) always makes one
            return burst

        async def restart() -> None:
            await env.restart_servers(("qms-mcp",))

        async def forget() -> None:
            async with httpx.AsyncClient(timeout=10.0) as http:
                for server in SERVERS:
                    for session in front_of(server).session_ids:
                        await http.delete(
                            f"http://127.0.0.1:{env.ports[server]}/mcp",
                            headers={
                                "Authorization": f"Bearer {token}",
                                "Mcp-Session-Id": session,
                                "MCP-Protocol-Version": PROTOCOL_VERSION,
                            },
                        )

        actions: dict[str, Callable[[], Awaitable[None]]] = {"restart-qms": restart, "forget-session": forget}
        for event in events:
            if event.kind == "burst-503":
                count = event.count

                async def burst(count: int = count) -> None:
                    for server in SERVERS:
                        front_of(server).arm_burst(count)

                actions[event.kind] = burst
            elif event.kind == "partition":
                seconds = event.seconds

                async def partition(seconds: float = seconds) -> None:
                    for server in SERVERS:
                        front_of(server).partition(seconds)

                actions[event.kind] = partition

        async def reset() -> None:
            for server in SERVERS:
                front_of(server).reset_all()

        async def idle() -> None:  # the gap itself is the step's wait_s
            return None

        actions.update({"reset": reset, "idle-gap": idle})
        return actions

    def _servers_config(self, slot: _Slot, fronts: dict[str, Front], path: str) -> dict[str, Any]:
        ports = {server: fronts[server].port for server in SERVERS}
        if path == "proxy":
            return mcp_config(replace(slot.layout, qms_port=ports["qms"], git_port=ports["git"]))
        headers = {"Authorization": f"Bearer {slot.env.tokens[slot.layout.agent]}"}
        return {
            "mcpServers": {
                server: {
                    "type": "http",
                    "url": f"http://{slot.layout.server_host}:{port}/mcp",
                    "headers": headers,
                }
                for server, port in ports.items()
            }
        }

    async def _session(
        self, slot: _Slot, plan: LaunchPlan, path: str, events: tuple[SessionEvent, ...]
    ) -> tuple[PathResult, dict[str, Any], str]:
        env = slot.env
        async with AsyncExitStack() as stack:
            fronts = await open_fronts(stack, env, plan, path, SERVERS, controllable=True)
            scenario = session_scenario(f"session-{plan.index}-{path}", events)
            model = ScriptedModel(
                scenario,
                run_id=secrets.token_hex(4),
                project_dir=slot.workdir,
                faults=self._actions(slot, fronts, events),
            )
            key = f"sk-soak-{model.run_id}-{secrets.token_hex(12)}"
            server = await stack.enter_async_context(
                serve_model(create_app(model, {key: AGENT}), ["127.0.0.1", env.gateway])
            )
            servers = json.dumps(self._servers_config(slot, fronts, path))
            argv = claude_argv(
                env.docker_cli,
                slot.container,
                slot.workdir,
                claude_env(f"http://{slot.layout.server_host}:{server.port}", key),
                f"{scenario.turns[0].prompt} {model.marker(1)}",
                extra=["--mcp-config", servers, "--strict-mcp-config"],
            )
            since = time.time()
            began = time.perf_counter()
            problems: list[str] = []
            exit_code: int | None = None
            output = ""
            with anyio.move_on_after(SESSION_TIMEOUT_S) as scope:
                done = await anyio.run_process(argv, check=False, env=child_env(), stderr=subprocess.STDOUT)
                exit_code, output = done.returncode, done.stdout.decode("utf-8", "replace")
            if scope.cancelled_caught:
                problems.append(f"claude -p did not finish within {SESSION_TIMEOUT_S:g} s")
            duration_ms = round((time.perf_counter() - began) * 1000.0, 1)
            turn = model.turns[1]
            steps = list(model.steps.values())
            for step in steps:
                if step.outcome == "issued":
                    step.fail("the tool_use was sent but no tool_result came back before the session ended")
            audit, _ = await anyio.to_thread.run_sync(audit_problems, env.root, steps, since)
            observed = {server: front.stats() for server, front in fronts.items()}
        result = path_result(
            steps,
            exit_code=exit_code,
            finished=turn.finished,
            problems=[*problems, *turn.problems],
            audit=audit,
            duration_ms=duration_ms,
        )
        return result, observed, output


@asynccontextmanager
async def session_environment(config: SoakConfig, say: Callable[[str], None]) -> AsyncIterator[LaunchStep]:
    """Per worker: a project with its own servers and one long-lived container; yields the trial step."""
    # Each trial creates CREATES_PER_SESSION documents per path, all as one agent: the project's
    # create-rate limit (30 an hour by default) is raised to what this run creates, and no further.
    creates = CREATES_PER_SESSION * len(PATHS) * config.launches + 10
    settings = replace(
        settings_for(config),
        workers=1,
        server_args=("--session-lifetime", f"{LIFETIME_S:g}"),
        qms_limits={"max_creates_per_window": creates},
    )
    run_id = f"{config.seed:x}-{int(time.time()) % 100000}"
    async with AsyncExitStack() as stack:
        slots = []
        for worker in range(config.workers):
            env = await stack.enter_async_context(open_environment(settings, say))
            agent = await stack.enter_async_context(env.agent())
            if agent != AGENT:  # the pool lends the first agent first: the script is written for it
                raise AssertionError(f"expected the {AGENT} agent, got {agent}")
            name = f"agentdock-sessions-{run_id}-{worker}"
            layout, container_id = await start_trial_container(
                stack, env, agent, name=name, retries=config.proxy_retries
            )
            slots.append(_Slot(env, layout, name, container_id, container_project_dir(env.root)))
            say(f"worker {worker}: project {env.root}, container {name}")
        say(
            f"session trials: {LIFETIME_S:g} s server session lifetime; each trial runs one scripted "
            "session per path, faults done between calls"
        )
        yield SessionTrial(slots)
