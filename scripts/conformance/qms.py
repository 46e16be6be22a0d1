"""Server scenarios of the conformance suite against a real ``qms-mcp``.

A fresh QMS project gets a token for ``claude``; ``qms-mcp`` serves it on
127.0.0.1 (once stateful with SSE, once ``--stateless --json-response``).  The
suite sends no credentials and has no header option, so a small forwarder sits
in front: it adds ``Authorization: Bearer <token>`` and passes everything else
through unchanged — the Host and Origin headers included, so the
DNS-rebinding scenario exercises qms-mcp's own Host/Origin check — and streams
responses (SSE) as they come.

Only scenarios that apply to a server without the suite's fixture tools,
resources and prompts are run (``APPLICABLE``); the others are listed with the
reason in ``NOT_APPLICABLE`` and in ``<out>/qms/applicability.md``.

    python scripts/conformance/qms.py            # run the applicable server scenarios
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parents[1] / "src")]

import anyio  # noqa: E402
import httpx  # noqa: E402
import uvicorn  # noqa: E402

from conformance.common import (  # noqa: E402
    REPO,
    ScenarioResult,
    Toolchain,
    collect,
    ensure_toolchain,
    run_suite,
    summarise,
)

APPLICABLE: dict[str, str] = {
    "server-initialize": "initialize handshake",
    "ping": "ping answers {}",
    "tools-list": "every tool has name, description, inputSchema",
    "resources-list": "resources capability is declared; the (empty) list is well-formed",
    "prompts-list": "prompts capability is declared; the (empty) list is well-formed",
    "server-sse-multiple-streams": "concurrent POST streams in one session (stateful mode only)",
    "dns-rebinding-protection": "foreign Host/Origin refused with 4xx, localhost accepted",
}
NOT_APPLICABLE: dict[str, str] = {
    "logging-set-level": "qms-mcp does not declare the logging capability",
    "completion-complete": "no completions capability; needs the suite's test_prompt_with_arguments",
    "tools-call-simple-text": "needs the suite's fixture tool",
    "tools-call-image": "needs the suite's fixture tool",
    "tools-call-audio": "needs the suite's fixture tool",
    "tools-call-embedded-resource": "needs the suite's fixture tool",
    "tools-call-mixed-content": "needs the suite's fixture tool",
    "tools-call-with-logging": "needs the suite's fixture tool",
    "tools-call-error": "needs the suite's fixture tool",
    "tools-call-with-progress": "needs the suite's fixture tool",
    "tools-call-sampling": "needs the suite's fixture tool",
    "tools-call-elicitation": "needs the suite's fixture tool",
    "json-schema-2020-12": "needs the suite's fixture tool json_schema_2020_12_tool",
    "elicitation-sep1034-defaults": "needs the suite's fixture tool",
    "elicitation-sep1330-enums": "needs the suite's fixture tool",
    "server-sse-polling": "needs the suite's fixture tool test_reconnection",
    "resources-read-text": "needs the suite's fixture resources",
    "resources-read-binary": "needs the suite's fixture resources",
    "resources-templates-read": "needs the suite's fixture resource templates",
    "resources-subscribe": "needs fixture resources and the subscribe capability",
    "resources-unsubscribe": "needs fixture resources and the subscribe capability",
    "prompts-get-simple": "needs the suite's fixture prompts",
    "prompts-get-with-args": "needs the suite's fixture prompts",
    "prompts-get-embedded-resource": "needs the suite's fixture prompts",
    "prompts-get-with-image": "needs the suite's fixture prompts",
}
#: (label, qms-mcp flags); server-sse-multiple-streams needs a session, so it runs stateful only
MODES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("stateful SSE", ()),
    ("stateless JSON", ("--stateless", "--json-response")),
)
_STATEFUL_ONLY = {"server-sse-multiple-streams"}
_DROP_REQUEST = {
    b"authorization",
    b"connection",
    b"content-length",
    b"keep-alive",
    b"proxy-authorization",
    b"te",
    b"trailers",
    b"transfer-encoding",
    b"upgrade",
}
_DROP_RESPONSE = {b"connection", b"keep-alive", b"transfer-encoding", b"upgrade", b"trailers"}


class BearerForwarder:
    """ASGI app: forward every request to ``upstream`` with a bearer token added; stream the answer."""

    def __init__(self, upstream: str, token: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.authorization = f"Bearer {token}".encode("latin-1")
        self.client: httpx.AsyncClient | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http" or self.client is None:
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in _DROP_REQUEST]
        headers.append((b"authorization", self.authorization))  # Host and Origin pass through as sent
        query = scope.get("query_string", b"")
        url = self.upstream + scope["raw_path"].decode("latin-1") + (f"?{query.decode()}" if query else "")
        request = self.client.build_request(scope["method"], url, headers=headers, content=bytes(body))
        response = await self.client.send(request, stream=True)
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": [(k, v) for k, v in response.headers.raw if k.lower() not in _DROP_RESPONSE],
                }
            )
            async with anyio.create_task_group() as tg:

                async def client_gone() -> None:
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    tg.cancel_scope.cancel()

                tg.start_soon(client_gone)
                async for chunk in response.aiter_raw():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                tg.cancel_scope.cancel()
        finally:
            await response.aclose()

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.client = httpx.AsyncClient(timeout=httpx.Timeout(None, connect=10.0))
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.client is not None:
                    await self.client.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


@contextlib.contextmanager
def forwarder(upstream_url: str, token: str) -> Iterator[str]:
    """Serve a :class:`BearerForwarder` on 127.0.0.1 in a thread; yields its ``/mcp`` URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    base = upstream_url.removesuffix("/mcp")
    server = uvicorn.Server(
        uvicorn.Config(BearerForwarder(base, token), lifespan="on", log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="forwarder", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise SystemExit("conformance: the bearer forwarder did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


def _write_applicability(out_dir: Path, results: list[ScenarioResult]) -> None:
    lines = [
        "# qms-mcp: conformance server scenarios",
        "",
        "| scenario | mode | applies | result | checks |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.scenario} | {r.note.strip('()')} | yes: {APPLICABLE[r.scenario]} | "
        f"{'PASS' if r.passed else 'FAIL'}{' (warnings)' if r.warnings else ''} | {r.checks} |"
        for r in results
    ]
    lines += [f"| {name} | - | no: {why} | not run | - |" for name, why in NOT_APPLICABLE.items()]
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "applicability.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def run(toolchain: Toolchain, out_dir: Path) -> list[ScenarioResult]:
    from agentdock.mcphost import TokenStore
    from agentdock.qms.process import qms_server_process
    from agentdock.qms.project import init_project

    results: list[ScenarioResult] = []
    with tempfile.TemporaryDirectory(prefix="qms-conformance-") as folder:
        root = Path(folder)
        init_project(root)
        token = TokenStore(root).ensure("claude")
        for label, flags in MODES:
            mode_dir = out_dir / "qms" / label.split()[0]
            # a root-owned scratch project: run as root, the server may keep root only when told so
            extra = [*flags, *(["--allow-root"] if os.geteuid() == 0 else [])]
            with qms_server_process(root, extra_args=extra) as server, forwarder(server.url, token) as url:
                for scenario in APPLICABLE:
                    if flags and scenario in _STATEFUL_ONLY:
                        continue
                    completed = run_suite(
                        toolchain,
                        ["server", "--url", url, "--scenario", scenario],
                        out_dir=mode_dir,
                        timeout_s=180,
                    )
                    result = collect("qms", mode_dir, scenario, completed)
                    result.note = f"({label})"
                    results.append(result)
    _write_applicability(out_dir / "qms", results)
    print(
        f"conformance: qms-mcp: {len(APPLICABLE)} scenarios apply, {len(NOT_APPLICABLE)} do not "
        f"(see {out_dir / 'qms' / 'applicability.md'})",
        file=sys.stderr,
    )
    return results


def main() -> int:
    return summarise(run(ensure_toolchain(), REPO / "reports" / "conformance"))


if __name__ == "__main__":
    sys.exit(main())
