"""The real launch step: a fresh agent container, Claude Code and an SDK client through it.

One launch (`RealLaunch.__call__`):

1. For each path, fault fronts for qms and git on the Docker bridge gateway —
   a `FaultProxy` with the launch's toxics (seeded with the launch seed), behind
   a `BurstFront` when the launch draws a 503 burst — in front of the real
   servers on 127.0.0.1.  Both paths get the same faults from the same seed.
2. A fresh agent container exactly as ``./launch.sh`` starts it (the
   launcher's ``start_agent_container``: same image, mounts, masks, ``.mcp.json``
   overlay through ``/proxy/mcp_proxy.py``), pointed at the proxy path's fronts;
   timed to "started" (``docker run`` returned) and "ready" (entrypoint marker).
3. proxy path: ``claude mcp list`` in the project (servers via the stdio
   proxy); then an SDK client on the host speaking stdio to the same proxy
   command inside the container (``docker exec -i``): initialize -> tools/list
   -> ``qms_inbox`` -> (git) initialize -> ``git_exec``.
4. direct path: ``claude mcp add --transport http`` (local scope, in a scratch
   folder) for both servers pointed at the direct path's fronts, then
   ``claude mcp list`` there.
5. ``first_response_ms`` of a path is its ``claude mcp list`` time: how long
   Claude Code took to hear back from both servers.  Before either path, one
   untimed ``claude mcp list`` in a folder without servers warms Claude Code
   up (its first run in a fresh container loads the binary and writes its
   config), so the two paths are measured alike — the direct path's
   ``claude mcp add`` runs would otherwise warm it for the direct path only.  On any failure the
   record carries the container log, the proxy's stderr and the fault counters.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import anyio
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from agentdock import paths
from agentdock.defaults import child_env
from agentdock.harness.tcp.proxy import FaultProxy
from agentdock.harness.tcp.toxics import toxic_from_dict
from agentdock.launcher import (
    AgentContainerSpec,
    LauncherError,
    LayoutSpec,
    remove_container,
    start_agent_container,
    wait_until_ready,
)
from agentdock.soak.environment import EnvironmentSettings, SoakEnvironment, open_environment
from agentdock.soak.front import BurstFront
from agentdock.soak.profiles import LaunchFaults
from agentdock.soak.records import LaunchRecord, PathResult, clip_evidence
from agentdock.soak.runner import LaunchPlan, LaunchStep, SoakConfig

__all__ = [
    "SERVERS",
    "Front",
    "RealLaunch",
    "StepPool",
    "docker_environment",
    "open_fronts",
    "parse_mcp_list",
    "settings_for",
    "toxics_for",
]

SERVERS: tuple[str, ...] = ("qms", "git")
DIRECT_DIR = "/tmp/agentdock-soak-direct"  # noqa: S108 - a folder inside the throwaway container
#: where the proxies ``claude mcp list`` starts write their logs (``MCP_PROXY_LOG_FILE``): Claude Code
#: keeps an MCP server's stderr to itself, so without this a failed list says nothing of the proxy's side
PROXY_LOG = "/tmp/agentdock-soak-proxy.log"  # noqa: S108 - inside the throwaway container
READY_TIMEOUT_S = 90.0
EXEC_TIMEOUT_S = 90.0
SDK_TIMEOUT_S = 90.0
QMS_TOOL: tuple[str, dict[str, Any]] = ("qms_inbox", {})
GIT_TOOL: tuple[str, dict[str, Any]] = ("git_exec", {"command": "git status"})


def toxics_for(faults: LaunchFaults) -> list[Any]:
    """The TCP fault proxy's toxics for one launch's faults."""
    specs: list[dict[str, Any]] = []
    if faults.latency_ms or faults.jitter_ms:
        specs.append(
            {
                "type": "latency",
                "name": "latency",
                "stream": "downstream",
                "attributes": {"latency_ms": faults.latency_ms, "jitter_ms": faults.jitter_ms},
            }
        )
    if faults.reset_probability > 0:
        for stream in ("upstream", "downstream"):
            specs.append(
                {
                    "type": "reset_peer",
                    "name": f"reset_{stream}",
                    "stream": stream,
                    "toxicity": faults.reset_probability / 2,
                    "attributes": {"after_bytes": faults.reset_after_bytes},
                }
            )
    return [toxic_from_dict(spec) for spec in specs]


def parse_mcp_list(output: str, servers: tuple[str, ...] = SERVERS) -> dict[str, str | None]:
    """``claude mcp list`` output -> {server: None when connected, else the line that says why not}."""
    lines = {line.split(":", 1)[0].strip(): line.strip() for line in output.splitlines() if ":" in line}
    verdict: dict[str, str | None] = {}
    for name in servers:
        line = lines.get(name)
        if line is None:
            verdict[name] = f"{name}: not listed"
        elif "✓ Connected" in line or line.endswith("Connected"):
            verdict[name] = None
        else:
            verdict[name] = line
    return verdict


@dataclass
class Front:
    """One server's fault layer for one path: what the container connects to."""

    proxy: FaultProxy
    burst: BurstFront | None
    port: int

    def stats(self) -> dict[str, Any]:
        out = {f"tcp_{k}": v for k, v in self.proxy.stats.items() if not k.startswith("bytes_")}
        if self.burst is not None:
            out.update({f"front_{k}": v for k, v in self.burst.stats.items()})
        return out


@dataclass
class _Path:
    steps_ms: dict[str, float] = field(default_factory=dict)
    failed_step: str | None = None
    error: str | None = None
    first_response_ms: float | None = None
    outputs: list[str] = field(default_factory=list)

    def fail(self, step: str, error: str) -> None:
        if self.failed_step is None:
            self.failed_step, self.error = step, error[:2000]

    def result(self, redact: Callable[[str], str]) -> PathResult:
        return PathResult(
            ok=self.failed_step is None,
            failed_step=self.failed_step,
            error=None if self.error is None else redact(self.error),
            first_response_ms=self.first_response_ms,
            steps_ms=self.steps_ms,
        )


async def open_fronts(
    stack: AsyncExitStack,
    env: SoakEnvironment,
    plan: LaunchPlan,
    path: str,
    servers: tuple[str, ...] = SERVERS,
    *,
    controllable: bool = False,
) -> dict[str, Front]:
    """For each server, the fault layer one path of one launch (or trial) connects to; closed by ``stack``.

    ``controllable``: always put a `BurstFront` outermost (even without a drawn burst), so faults can be
    done to the path mid-session (`BurstFront.arm_burst`, ``partition``, ``reset_all``).
    """
    fronts: dict[str, Front] = {}
    faults = plan.faults
    for server in servers:
        bursting = faults.http_503_burst > 0 or controllable
        proxy = FaultProxy(
            f"{path}-{server}",
            listen=f"{'127.0.0.1' if bursting else env.gateway}:0",
            upstream=f"127.0.0.1:{env.ports[server]}",
            toxics=toxics_for(faults),
            seed=plan.seed,
        )
        await stack.enter_async_context(proxy)
        burst = None
        port = proxy.listen_port
        if bursting:
            burst = BurstFront(
                listen_host=env.gateway,
                upstream=("127.0.0.1", proxy.listen_port),
                after=faults.http_503_after_connections,
                burst=faults.http_503_burst,
            )
            await stack.enter_async_context(burst)
            port = burst.port
        fronts[server] = Front(proxy, burst, port)
    return fronts


def _ms(began: float) -> float:
    return round((time.perf_counter() - began) * 1000.0, 1)


class RealLaunch:
    """The launch step over a `SoakEnvironment` (callable: ``await step(plan) -> LaunchRecord``)."""

    def __init__(
        self,
        env: SoakEnvironment,
        run_id: str,
        clock: Callable[[], float] = time.time,
        *,
        proxy_retries: int | None = None,
    ) -> None:
        self.env = env
        self.run_id = run_id
        self.proxy_retries = proxy_retries
        self.clock = clock

    async def _fronts(self, stack: AsyncExitStack, plan: LaunchPlan, path: str) -> dict[str, Front]:
        return await open_fronts(stack, self.env, plan, path)

    async def _docker(self, *args: str, timeout_s: float = EXEC_TIMEOUT_S) -> tuple[int, str]:
        with anyio.fail_after(timeout_s):
            done = await anyio.run_process(
                [self.env.docker_cli, *args], check=False, env=child_env(), stderr=subprocess.STDOUT
            )
        return done.returncode, done.stdout.decode("utf-8", "replace")

    async def _mcp_list(self, name: str, workdir: str, path: _Path) -> None:
        began = time.perf_counter()
        try:
            code, output = await self._docker(
                "exec", "-e", f"MCP_PROXY_LOG_FILE={PROXY_LOG}", "-w", workdir, name, "claude", "mcp", "list"
            )  # fmt: skip
        except TimeoutError:
            path.fail("mcp_list", f"`claude mcp list` did not finish within {EXEC_TIMEOUT_S:g} s")
            return
        path.steps_ms["mcp_list"] = path.first_response_ms = _ms(began)
        path.outputs.append(f"$ claude mcp list  (in {workdir}, exit {code})\n{output}")
        problems = [line for line in parse_mcp_list(output).values() if line]
        if code != 0 or problems:
            path.fail("mcp_list", "; ".join(problems) or f"exit {code}: {output[-300:]}")

    async def _sdk(self, name: str, overlay: dict[str, Any], errlog: Path, path: _Path) -> None:
        """initialize -> tools/list -> qms tool -> (git) initialize -> git_exec, through the proxy."""
        for server in SERVERS:
            entry = overlay["mcpServers"][server]
            params = StdioServerParameters(
                command=self.env.docker_cli,
                args=["exec", "-i", name, entry["command"], *entry["args"]],
                env=child_env(),
            )
            step = f"{server}_initialize"
            try:
                with anyio.fail_after(SDK_TIMEOUT_S), errlog.open("a") as err:
                    err.write(f"--- {server} proxy stderr ---\n")
                    err.flush()
                    async with (
                        stdio_client(params, errlog=err) as (read, write),
                        ClientSession(read, write) as session,
                    ):
                        began = time.perf_counter()
                        await session.initialize()
                        path.steps_ms[step] = _ms(began)
                        if server == "qms":
                            step = "tools_list"
                            began = time.perf_counter()
                            tools = await session.list_tools()
                            path.steps_ms[step] = _ms(began)
                            if QMS_TOOL[0] not in {t.name for t in tools.tools}:
                                path.fail(step, f"{QMS_TOOL[0]} not among the tools")
                                return
                        tool, arguments = QMS_TOOL if server == "qms" else GIT_TOOL
                        step = "qms_call" if server == "qms" else "git_exec"
                        began = time.perf_counter()
                        result = await session.call_tool(tool, dict(arguments))
                        path.steps_ms[step] = _ms(began)
                        if result.is_error:
                            path.fail(step, f"{tool} answered isError: {str(result.content)[:500]}")
                            return
            except TimeoutError:
                path.fail(step, f"no answer within {SDK_TIMEOUT_S:g} s")
                return
            except Exception as exc:  # the SDK's McpError, transport errors, a dead docker exec
                path.fail(step, f"{type(exc).__name__}: {exc}")
                return

    async def _warm_up(self, name: str) -> None:
        """One untimed ``claude mcp list`` where no server is configured (see step 5 above)."""
        with contextlib.suppress(TimeoutError):  # the timed steps that follow say what is wrong
            await self._docker("exec", "-w", "/", name, "claude", "mcp", "list")

    async def _configure_direct(self, name: str, token: str, fronts: dict[str, Front], path: _Path) -> None:
        """``claude mcp add --transport http --scope local`` for both servers, in a scratch folder."""
        try:
            code, output = await self._docker("exec", name, "mkdir", "-p", DIRECT_DIR)
            for server in SERVERS:
                if code != 0:
                    break
                url = f"http://host.docker.internal:{fronts[server].port}/mcp"
                code, output = await self._docker(
                    "exec", "-w", DIRECT_DIR, name, "claude", "mcp", "add", "--transport", "http",
                    "--scope", "local", server, url, "--header", f"Authorization: Bearer {token}",
                )  # fmt: skip
        except TimeoutError:
            path.fail("configure", f"`claude mcp add` did not finish within {EXEC_TIMEOUT_S:g} s")
            return
        if code != 0:
            path.fail("configure", f"claude mcp add failed ({code}): {output[-300:]}")

    async def _restart_later(
        self, faults: LaunchFaults, done: anyio.Event, timings: list[dict[str, float]]
    ) -> None:
        assert faults.restart_after_ms is not None
        await anyio.sleep(faults.restart_after_ms / 1000.0)
        timings.append(await self.env.restart_servers())
        done.set()

    async def _with_restart(
        self, faults: LaunchFaults, body: Callable[[], Any], timings: list[dict[str, float]]
    ) -> None:
        """Run ``body``; with a drawn restart, restart the host servers that long into it (and wait for it).

        How long each restart took (stop, start) is appended to ``timings``: the outage the path lived through.
        """
        if faults.restart_after_ms is None:
            await body()
            return
        done = anyio.Event()
        async with anyio.create_task_group() as group:
            group.start_soon(self._restart_later, faults, done, timings)
            await body()
            with anyio.fail_after(self.env.server_timeout_s + 30):
                await done.wait()

    async def __call__(self, plan: LaunchPlan) -> LaunchRecord:
        started_at = self.clock()
        began = time.perf_counter()
        evidence: dict[str, str] = {}
        observed: dict[str, Any] = {}
        container: Any = None
        paths_out: dict[str, PathResult] = {}
        restarts: dict[str, list[dict[str, float]]] = {"proxy": [], "direct": []}
        start_ms = ready_ms = None
        infra_error = None
        # The agent goes back to the pool only after its container is removed (the stack closes
        # first): the launcher refuses a second container for an agent, so the other order let the
        # next launch borrow the agent while the last one's container still existed.
        async with self.env.agent() as agent, AsyncExitStack() as stack:
            fronts = {p: await self._fronts(stack, plan, p) for p in ("proxy", "direct")}
            token = self.env.tokens[agent]
            layout = LayoutSpec(
                root=self.env.root, agent=agent, token=token,
                qms_port=fronts["proxy"]["qms"].port, git_port=fronts["proxy"]["git"].port,
                projects=self.env.projects_dir,
            )  # fmt: skip
            if self.proxy_retries is not None:
                layout = replace(layout, proxy_retries=self.proxy_retries)
            spec = AgentContainerSpec(
                layout=layout,
                image=self.env.image,
                uid=self.env.uid,
                gid=self.env.gid,
                name=f"agentdock-soak-{self.run_id}-{plan.index}",
                labels={"io.agentdock.soak": self.run_id},
            )
            name = spec.name or ""
            # Registered before the start: a launch cancelled while docker creates the container
            # (Ctrl-C, the launch bound) still removes it, by name.
            stack.push_async_callback(_remove_named, self.env.client, name)
            try:
                t0 = time.perf_counter()
                container = await anyio.to_thread.run_sync(start_agent_container, self.env.client, spec)
                start_ms = _ms(t0)
                await anyio.to_thread.run_sync(wait_until_ready, container, READY_TIMEOUT_S)
                ready_ms = _ms(t0)
            except LauncherError as exc:
                infra_error = f"{type(exc).__name__}: {exc}"
                logs = getattr(exc, "logs", "")
                if logs:
                    evidence["container_logs"] = clip_evidence(logs)
            if infra_error is None:
                overlay_file = paths.agent_overlay_dir(self.env.root, agent) / "mcp.json"
                overlay = json.loads(overlay_file.read_text(encoding="utf-8"))
                project_dir = container.attrs.get("Config", {}).get("WorkingDir") or "/"
                with tempfile.TemporaryDirectory(prefix="agentdock-soak-") as tmp:
                    errlog = Path(tmp) / "proxy.stderr"
                    proxy_path, direct_path = _Path(), _Path()

                    async def proxy_body() -> None:
                        await self._mcp_list(name, project_dir, proxy_path)
                        await self._sdk(name, overlay, errlog, proxy_path)

                    async def direct_body() -> None:
                        await self._configure_direct(name, token, fronts["direct"], direct_path)
                        if direct_path.failed_step is None:
                            await self._mcp_list(name, DIRECT_DIR, direct_path)

                    await self._warm_up(name)
                    await self._with_restart(plan.faults, proxy_body, restarts["proxy"])
                    await self._with_restart(plan.faults, direct_body, restarts["direct"])
                    paths_out = {
                        "proxy": proxy_path.result(self.redact),
                        "direct": direct_path.result(self.redact),
                    }
                    if proxy_path.failed_step or direct_path.failed_step:
                        listed = "(not read)"
                        with contextlib.suppress(TimeoutError):
                            _, listed = await self._docker("exec", name, "cat", PROXY_LOG, timeout_s=10)
                        sdk = errlog.read_text() if errlog.exists() else ""
                        evidence["proxy_stderr"] = clip_evidence(
                            f"{sdk}\n--- the proxies `claude mcp list` started ---\n{listed}"
                        )
                        evidence["claude_output"] = clip_evidence(
                            "\n".join(proxy_path.outputs + direct_path.outputs)
                        )
                if proxy_path.failed_step or direct_path.failed_step:
                    evidence["container_logs"] = clip_evidence(
                        await anyio.to_thread.run_sync(_logs, container)
                    )
            observed = {p: {s: f.stats() for s, f in fs.items()} for p, fs in fronts.items()}
        return LaunchRecord(
            index=plan.index,
            seed=plan.seed,
            profile=plan.profile,
            started_at=started_at,
            duration_ms=_ms(began),
            container_id=getattr(container, "id", None),
            container_start_ms=start_ms,
            readiness_ms=ready_ms,
            infra_error=infra_error,
            paths=paths_out,
            faults={
                **plan.faults.to_json(),
                "observed": observed,
                "server_restarts_so_far": self.env.restarts,
                "restarts": restarts,
            },
            evidence={key: self.redact(text) for key, text in evidence.items()},
        )

    def redact(self, text: str) -> str:
        """Bearer tokens never reach the report (``claude mcp list`` prints the proxy's arguments)."""
        for token in self.env.tokens.values():
            text = text.replace(token, "<token>")
        return text


async def _remove_named(client: Any, name: str) -> None:
    def remove() -> None:
        try:
            container = client.containers.get(name)
        except Exception:  # docker.errors.NotFound (never started) and transport errors
            return
        remove_container(container)

    with anyio.CancelScope(shield=True):
        await anyio.to_thread.run_sync(remove)


def _sweep(client: Any, run_id: str) -> int:
    """Remove every container this run labelled (leftovers of launches cut short)."""
    try:
        found = client.containers.list(all=True, filters={"label": f"io.agentdock.soak={run_id}"})
    except Exception:  # docker.errors.DockerException and transport errors
        return 0
    for container in found:
        remove_container(container)
    return len(found)


def _logs(container: Any) -> str:
    try:
        return bytes(container.logs(tail=300)).decode("utf-8", "replace")
    except Exception as exc:  # docker.errors.DockerException, transport errors
        return f"(container logs unavailable: {exc})"


def settings_for(config: SoakConfig) -> EnvironmentSettings:
    """The shared environment a run asks for: one agent per worker, the chosen image tag."""
    settings = EnvironmentSettings(workers=config.workers)
    return replace(settings, image=config.image_tag) if config.image_tag else settings


class StepPool:
    """Hands each launch to a free step: one step per worker, each over its own environment."""

    def __init__(self, steps: list[LaunchStep]) -> None:
        self._steps = list(steps)
        self._free = anyio.Semaphore(len(steps))

    async def __call__(self, plan: LaunchPlan) -> LaunchRecord:
        async with self._free:
            step = self._steps.pop()
            try:
                return await step(plan)
            finally:
                self._steps.append(step)


@asynccontextmanager
async def docker_environment(config: SoakConfig, say: Callable[[str], None]) -> AsyncIterator[LaunchStep]:
    """Set up one environment (project, servers) per worker, and the image; yield the real launch step.

    Each worker has its own servers, so a restart one launch draws lands in that launch only: with
    shared servers a launch also lived through every other worker's restart (two in a row are a
    6-8 s outage no profile drew), and ``--replay`` could not reproduce what it saw.
    """
    settings = replace(settings_for(config), workers=1)
    run_id = f"{config.seed:x}-{int(time.time()) % 100000}"
    async with AsyncExitStack() as stack:
        steps: list[RealLaunch] = []
        for _ in range(config.workers):
            env = await stack.enter_async_context(open_environment(settings, say))
            steps.append(RealLaunch(env, run_id=run_id, proxy_retries=config.proxy_retries))
        try:
            yield steps[0] if len(steps) == 1 else StepPool(list(steps))
        finally:
            with anyio.CancelScope(shield=True):
                left = await anyio.to_thread.run_sync(_sweep, steps[0].env.client, run_id)
            if left:
                say(f"removed {left} container(s) left by interrupted launches")
