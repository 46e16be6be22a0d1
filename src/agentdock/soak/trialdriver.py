"""The connection-trial driver: runs INSIDE an agent container and runs many trials over one pipe.

``python3 -m agentdock.soak.trialdriver`` (started once per container with
``docker exec -i``, so a trial costs no ``docker exec``) reads one JSON request
per line on stdin and answers each with one JSON line on stdout::

    {"id": 7, "path": "proxy", "argv": ["python3", "/proxy/mcp_proxy.py", URL, ...],
     "tool": "qms_inbox", "arguments": {}, "timeout_s": 45}
    {"id": 8, "path": "direct", "url": URL, "token": "...", "tool": "qms_inbox", "timeout_s": 45}
    -> {"id": 7, "ok": true, "failed_step": null, "error": null, "first_response_ms": 183.2,
        "steps_ms": {"initialize": 183.2, "tools_list": 12.0, "tool_call": 20.1}, "stderr": ""}

A trial is initialize -> tools/list -> one read-only tool call with the MCP SDK's
client: through a fresh proxy process (``path: proxy``; ``first_response_ms``
counts from spawning it, as Claude Code's start does) or straight over
Streamable HTTP (``path: direct``). It never raises: every failure is an answer
naming its step. The driver ends when stdin closes.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from typing import Any, TextIO

import anyio
import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

__all__ = ["main", "run_trial"]

_STDERR_LIMIT = 16_000
DEFAULT_TIMEOUT_S = 45.0


def _describe(exc: BaseException) -> str:
    """``Type: message`` of the first real error inside (task groups wrap what failed)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"


def _timeout(request: dict[str, Any]) -> float:
    return float(request.get("timeout_s") or DEFAULT_TIMEOUT_S)


def _ms(began: float) -> float:
    return round((time.perf_counter() - began) * 1000.0, 1)


async def _steps(client: Client, request: dict[str, Any], began: float, out: dict[str, Any]) -> None:
    tool = str(request["tool"])
    out["first_response_ms"] = out["steps_ms"]["initialize"] = _ms(began)
    out["step"] = "tools_list"
    t0 = time.perf_counter()
    tools = await client.list_tools()
    out["steps_ms"]["tools_list"] = _ms(t0)
    if tool not in {t.name for t in tools.tools}:
        raise LookupError(f"{tool} not among the tools")
    out["step"] = "tool_call"
    t0 = time.perf_counter()
    result = await client.call_tool(tool, dict(request.get("arguments") or {}))
    out["steps_ms"]["tool_call"] = _ms(t0)
    if result.is_error:
        raise RuntimeError(f"{tool} answered isError: {str(result.content)[:300]}")


async def _proxy(request: dict[str, Any], out: dict[str, Any], errlog: TextIO) -> None:
    argv = [str(part) for part in request["argv"]]
    params = StdioServerParameters(command=argv[0], args=argv[1:])
    began = time.perf_counter()
    async with Client(stdio_client(params, errlog=errlog)) as client:
        await _steps(client, request, began, out)


async def _direct(request: dict[str, Any], out: dict[str, Any]) -> None:
    headers = {"authorization": f"Bearer {request['token']}"}
    began = time.perf_counter()
    http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(_timeout(request)))
    async with http, Client(streamable_http_client(str(request["url"]), http_client=http)) as client:
        await _steps(client, request, began, out)


async def run_trial(request: dict[str, Any]) -> dict[str, Any]:
    """One trial as the request describes it; the answer (never an exception)."""
    out: dict[str, Any] = {"id": request.get("id"), "path": request.get("path"), "steps_ms": {}}
    out["step"] = "initialize"
    with tempfile.TemporaryFile("w+", encoding="utf-8") as errlog:
        try:
            with anyio.fail_after(_timeout(request)):
                if request.get("path") == "proxy":
                    await _proxy(request, out, errlog)
                else:
                    await _direct(request, out)
        except TimeoutError:
            out["error"] = f"no answer within {_timeout(request):g} s"
        except Exception as exc:  # the SDK's McpError, transport errors, a proxy that died: all are results
            out["error"] = _describe(exc)[:2000]
        out["ok"] = "error" not in out
        out["failed_step"] = None if out["ok"] else out["step"]
        out.setdefault("error", None)
        if not out["ok"]:
            errlog.seek(0)
            out["stderr"] = errlog.read()[-_STDERR_LIMIT:]
    del out["step"]
    return out


async def _serve() -> None:
    stdin = anyio.wrap_file(sys.stdin)
    async for line in stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
        except ValueError as exc:
            answer: dict[str, Any] = {"id": None, "ok": False, "failed_step": "driver", "error": str(exc)}
        else:
            answer = await run_trial(request)
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


def main() -> int:
    anyio.run(_serve)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
