"""The real launch step: an agent container per launch, Claude Code and an SDK client through it.

Not built yet: it needs the launcher's container API, the proxy, qms-mcp,
git-mcp and the TCP fault proxy, which land in parallel.  Until then the
environment refuses to start, so ``agentdock soak`` says so and measures nothing
(exit 3) instead of pretending.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from agentdock.harness.soak import LaunchStep, SoakConfig
from agentdock.harness.soak_errors import SoakSetupError

__all__ = ["docker_environment"]


@asynccontextmanager
async def docker_environment(config: SoakConfig) -> AsyncIterator[LaunchStep]:
    """Set up servers, fault proxies and the image; yield the launch step."""
    raise SoakSetupError(
        f"the real launch step is not available yet (asked for {config.launches} launches): "
        "it needs the launcher, proxy, qms-mcp, git-mcp and the TCP fault proxy"
    )
    yield  # pragma: no cover
