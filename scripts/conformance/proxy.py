"""Client scenarios of the conformance suite, with the proxy in the loop.

The suite starts a mock server per scenario and runs a client command with the
server's URL appended. Our command is this file's ``drive`` mode: the real
``mcp`` SDK client connects over stdio to ``python proxy/mcp_proxy.py URL``,
which speaks Streamable HTTP to the suite's server, and then does what the
scenario (``MCP_CONFORMANCE_SCENARIO``) asks for. So every check the suite
makes on the wire is a check of the proxy.

    python scripts/conformance/proxy.py                 # run the core client scenarios
    python scripts/conformance/proxy.py drive URL       # (used by the suite) one client session
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parents[1] / "src")]

from conformance.common import (  # noqa: E402
    REPO,
    ScenarioResult,
    Toolchain,
    collect,
    ensure_toolchain,
    run_suite,
    summarise,
)

PROXY = REPO / "proxy" / "mcp_proxy.py"
CORE_CLIENT_SCENARIOS = ("initialize", "tools_call", "elicitation-sep1034-client-defaults", "sse-retry")
"""The suite's client scenarios outside the OAuth family (the proxy forwards a bearer token; it is not an OAuth client)."""


def run(toolchain: Toolchain, out_dir: Path) -> list[ScenarioResult]:
    results = []
    command = " ".join([sys.executable, str(Path(__file__).resolve()), "drive"])
    if " " in sys.executable or " " in str(Path(__file__).resolve()):
        raise SystemExit("conformance: the suite splits --command on spaces; run from a path without spaces")
    for scenario in CORE_CLIENT_SCENARIOS:
        completed = run_suite(
            toolchain,
            ["client", "--command", command, "--scenario", scenario, "--timeout", "60000"],
            out_dir=out_dir / "proxy",
            timeout_s=180,
        )
        results.append(collect("proxy", out_dir / "proxy", scenario, completed))
    return results


def _elicit_defaults(schema: dict[str, Any]) -> dict[str, Any]:
    """Accept an elicitation with every default the requested schema declares (SEP-1034)."""
    properties = schema.get("properties") or {}
    return {
        name: spec["default"]
        for name, spec in properties.items()
        if isinstance(spec, dict) and "default" in spec
    }


async def _drive(url: str, scenario: str) -> None:
    import anyio
    from mcp import types
    from mcp.client.client import Client
    from mcp.client.stdio import StdioServerParameters, get_default_environment, stdio_client

    async def elicitation(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        schema = getattr(params, "requested_schema", None) or {}
        return types.ElicitResult(action="accept", content=_elicit_defaults(dict(schema)))

    params = StdioServerParameters(
        command=sys.executable,
        args=[str(PROXY), url, "--log-level", "debug"],
        env=get_default_environment(),
    )
    with anyio.fail_after(50):
        async with Client(
            stdio_client(params, errlog=sys.stderr), mode="legacy", elicitation_callback=elicitation
        ) as client:
            tools = (await client.list_tools()).tools
            names = [tool.name for tool in tools]
            print(f"connected through the proxy; protocol {client.protocol_version}; tools {names}")
            if scenario == "tools_call" and "add_numbers" in names:
                result = await client.call_tool("add_numbers", {"a": 5, "b": 3})
                print(f"add_numbers -> {result.content}")
            elif (
                scenario == "elicitation-sep1034-client-defaults"
                and "test_client_elicitation_defaults" in names
            ):
                result = await client.call_tool("test_client_elicitation_defaults", {})
                print(f"elicitation -> {result.content}")
            elif scenario == "sse-retry" and "test_reconnection" in names:
                result = await client.call_tool("test_reconnection", {})
                print(f"test_reconnection -> {result.content}")


def main(argv: list[str]) -> int:
    if argv[:1] == ["drive"]:
        import anyio

        anyio.run(_drive, argv[1], os.environ.get("MCP_CONFORMANCE_SCENARIO", "initialize"))
        return 0
    out_dir = REPO / "reports" / "conformance"
    return summarise(run(ensure_toolchain(), out_dir))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
