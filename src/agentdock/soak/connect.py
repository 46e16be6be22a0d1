"""Connection trials (``agentdock soak --mode connect``): thousands of fresh proxy connections per run.

A container launch costs seconds, so launches alone cannot give strong
evidence (a Wilson lower bound of 0.999 needs ~3,840 clean trials). A
connection trial keeps what the proxy is responsible for and drops the rest:

1. Setup, once: the soak's shared environment (throwaway project, real
   qms-mcp/git-mcp, the image), then one long-lived agent container per
   worker, started exactly as ``./launch.sh`` starts one, each with the
   trial driver (:mod:`agentdock.soak.trialdriver`) running inside it over one
   ``docker exec -i`` — so a trial costs no ``docker exec``.
2. Each trial draws its faults from the profile with its own seed (as a
   launch does) and gets fresh fault fronts for qms-mcp on the Docker bridge
   for each path: the TCP fault proxy (latency, jitter, resets) behind a 503
   burst front when drawn.
3. proxy path: the driver spawns a fresh ``python3 /proxy/mcp_proxy.py`` with
   the launcher's own arguments (``.mcp.json``'s command line, pointed at the
   front) and runs initialize -> tools/list -> ``qms_inbox`` through it;
   ``first_response_ms`` counts from the spawn.
4. direct path: the same three steps with the MCP SDK's Streamable HTTP
   client from inside the container, through the direct path's fronts.

Server restarts are not drawn in this mode: with several workers sharing the
host servers, one trial's restart would land in every other trial. The
``restart``/``hostile`` restarts are exercised by launches (and sessions).
Records use the launch schema (``launches.jsonl``), so the report, the
Wilson bounds and ``--replay`` work unchanged.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace
from typing import Any

import anyio
import anyio.abc
from anyio.streams.buffered import BufferedByteReceiveStream

from agentdock.defaults import child_env
from agentdock.launcher import (
    AgentContainerSpec,
    LauncherError,
    LayoutSpec,
    remove_container,
    start_agent_container,
    wait_until_ready,
)
from agentdock.launcher.layout import mcp_config
from agentdock.soak.environment import SoakEnvironment, open_environment
from agentdock.soak.errors import SoakSetupError
from agentdock.soak.launch import READY_TIMEOUT_S, open_fronts, settings_for
from agentdock.soak.records import PATHS, LaunchRecord, PathResult, clip_evidence
from agentdock.soak.runner import LaunchPlan, LaunchStep, SoakConfig

__all__ = ["SERVER", "TOOL", "ConnectionTrial", "TrialDriver", "connect_environment", "start_trial_container"]

SERVER = "qms"
TOOL = "qms_inbox"
#: One trial's own bound inside the driver (the runner's --launch-timeout bounds it from outside too).
TRIAL_TIMEOUT_S = 45.0
_LINE_LIMIT = 1 << 20


class TrialDriver:
    """The driver process inside one container: ``await driver.ask(request) -> answer``; restarts if it dies."""

    def __init__(self, docker_cli: str, container: str) -> None:
        self.docker_cli = docker_cli
        self.container = container
        self._process: anyio.abc.Process | None = None
        self._lines: BufferedByteReceiveStream | None = None
        self._next_id = 0

    async def _start(self) -> anyio.abc.Process:
        argv = [self.docker_cli, "exec", "-i", self.container, "python3", "-m", "agentdock.soak.trialdriver"]
        process = await anyio.open_process(argv, env=child_env())
        assert process.stdout is not None
        self._process, self._lines = process, BufferedByteReceiveStream(process.stdout)
        return process

    async def ask(self, request: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        """Send one trial, wait for its answer; a dead or stuck driver is a `SoakSetupError` (infra failure)."""
        process = self._process or await self._start()
        assert process.stdin is not None and self._lines is not None
        self._next_id += 1
        request = {**request, "id": self._next_id}
        try:
            with anyio.fail_after(timeout_s):
                await process.stdin.send((json.dumps(request) + "\n").encode())
                while True:
                    line = await self._lines.receive_until(b"\n", _LINE_LIMIT)
                    answer: dict[str, Any] = json.loads(line)
                    if answer.get("id") == self._next_id:
                        return answer  # an older id is the late answer of a trial cut short: skip it
        except (TimeoutError, anyio.EndOfStream, anyio.BrokenResourceError, OSError, ValueError) as exc:
            await self.close()
            raise SoakSetupError(
                f"trial driver in {self.container} failed: {type(exc).__name__}: {exc}"
            ) from exc

    async def close(self) -> None:
        process, self._process, self._lines = self._process, None, None
        if process is None:
            return
        with anyio.CancelScope(shield=True):
            if process.stdin is not None:
                await process.stdin.aclose()
            with anyio.move_on_after(5):
                await process.wait()
            if process.returncode is None:
                process.kill()
                await process.wait()


class ConnectionTrial:
    """The trial step (callable: ``await step(plan) -> LaunchRecord``) over long-lived containers."""

    def __init__(self, env: SoakEnvironment, slots: list[tuple[TrialDriver, LayoutSpec, str]]) -> None:
        self.env = env
        self._slots = slots
        self._free = anyio.Semaphore(len(slots))

    @asynccontextmanager
    async def _slot(self) -> AsyncIterator[tuple[TrialDriver, LayoutSpec, str]]:
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
        results: dict[str, PathResult] = {}
        evidence: dict[str, str] = {}
        async with self._slot() as (driver, layout, container_id), AsyncExitStack() as stack:
            fronts = {p: await open_fronts(stack, self.env, plan, p, (SERVER,)) for p in PATHS}
            for path in PATHS:
                port = fronts[path][SERVER].port
                request: dict[str, Any]
                if path == "proxy":
                    entry = mcp_config(replace(layout, qms_port=port))["mcpServers"][SERVER]
                    request = {"path": path, "argv": [entry["command"], *entry["args"]]}
                else:
                    url = f"http://{layout.server_host}:{port}/mcp"
                    request = {"path": path, "url": url, "token": layout.token}
                request.update(tool=TOOL, timeout_s=TRIAL_TIMEOUT_S)
                answer = await driver.ask(request, TRIAL_TIMEOUT_S + 15)
                results[path] = PathResult(
                    ok=bool(answer.get("ok")),
                    failed_step=answer.get("failed_step"),
                    error=self.redact(answer["error"]) if answer.get("error") else None,
                    first_response_ms=answer.get("first_response_ms"),
                    steps_ms=answer.get("steps_ms") or {},
                )
                if answer.get("stderr"):
                    evidence[f"{path}_stderr"] = clip_evidence(self.redact(answer["stderr"]))
            observed = {p: {s: f.stats() for s, f in fs.items()} for p, fs in fronts.items()}
        return LaunchRecord(
            index=plan.index,
            seed=plan.seed,
            profile=plan.profile,
            started_at=started_at,
            duration_ms=round((time.perf_counter() - began) * 1000.0, 1),
            container_id=container_id,
            paths=results,
            faults={**plan.faults.to_json(), "observed": observed},
            evidence=evidence,
        )

    def redact(self, text: str) -> str:
        for token in self.env.tokens.values():
            text = text.replace(token, "<token>")
        return text


def _container_spec(env: SoakEnvironment, agent: str, name: str) -> AgentContainerSpec:
    layout = LayoutSpec(
        root=env.root, agent=agent, token=env.tokens[agent],
        qms_port=env.ports["qms"], git_port=env.ports["git"], projects=env.projects_dir,
    )  # fmt: skip
    return AgentContainerSpec(
        layout=layout,
        image=env.image,
        uid=env.uid,
        gid=env.gid,
        name=name,
        labels={"io.agentdock.soak": name.rsplit("-", 1)[0]},
    )


async def start_trial_container(
    stack: AsyncExitStack, env: SoakEnvironment, agent: str, *, name: str, retries: int | None
) -> tuple[LayoutSpec, str]:
    """A long-lived agent container started as ``./launch.sh`` starts one (removed by ``stack``):
    its layout and container id.  A container that does not start is a `SoakSetupError`."""
    spec = _container_spec(env, agent, name)
    if retries is not None:
        spec = replace(spec, layout=replace(spec.layout, proxy_retries=retries))
    try:
        container = await anyio.to_thread.run_sync(start_agent_container, env.client, spec)
        stack.push_async_callback(anyio.to_thread.run_sync, remove_container, container)
        await anyio.to_thread.run_sync(wait_until_ready, container, READY_TIMEOUT_S)
    except LauncherError as exc:
        raise SoakSetupError(f"trial container {spec.name} did not start: {exc}") from exc
    return spec.layout, str(container.id)


async def _start_slot(
    stack: AsyncExitStack, env: SoakEnvironment, agent: str, *, name: str, retries: int | None
) -> tuple[TrialDriver, LayoutSpec, str]:
    layout, container_id = await start_trial_container(stack, env, agent, name=name, retries=retries)
    driver = TrialDriver(env.docker_cli, name)
    stack.push_async_callback(driver.close)
    return driver, layout, container_id


@asynccontextmanager
async def connect_environment(config: SoakConfig, say: Callable[[str], None]) -> AsyncIterator[LaunchStep]:
    """The shared environment plus one long-lived container (and driver) per worker; yields the trial step."""
    settings = settings_for(config)
    run_id = f"{config.seed:x}-{int(time.time()) % 100000}"
    async with open_environment(settings, say) as env, AsyncExitStack() as stack:
        agents = [await stack.enter_async_context(env.agent()) for _ in range(config.workers)]
        say(f"starting {len(agents)} long-lived trial container(s)")
        slots = [
            await _start_slot(
                stack, env, agent, name=f"agentdock-trials-{run_id}-{i}", retries=config.proxy_retries
            )
            for i, agent in enumerate(agents)
        ]
        say("connection trials: server restarts are not drawn in this mode (launches exercise them)")
        yield ConnectionTrial(env, slots)
