"""Fault profiles for the soak: what goes wrong between a container and the host servers.

A profile is a recipe; each launch draws its own concrete `LaunchFaults` from
a ``random.Random`` seeded with that launch's seed, so a failing launch can be
replayed exactly (``agentdock soak --seed S`` reproduces every launch's draw,
whatever the number of workers).

==========  ==============================================================
``none``    nothing injected: the baseline
``flaky``   latency with jitter, connections reset mid-stream, bursts of 503
``restart`` the host servers are restarted while a launch is using them
``hostile`` all of the above, harder
==========  ==============================================================

The faults are applied by the fault harness's TCP fault proxy, which sits in
front of the real servers on the address containers connect to; see
``soak_launch`` for the translation.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from agentdock.soak.errors import SoakConfigError

__all__ = ["PROFILES", "FaultProfile", "LaunchFaults", "launch_seed", "profile_named"]


@dataclass(frozen=True, slots=True)
class LaunchFaults:
    """The concrete faults of one launch."""

    #: added to every chunk in both directions, plus up to ``jitter_ms`` more
    latency_ms: int = 0
    jitter_ms: int = 0
    #: chance that a TCP connection is reset (RST) part-way through, half of them on the request
    #: side (the server never sees it all), half on the response side (the answer is cut)
    reset_probability: float = 0.0
    #: how many bytes pass before a reset
    reset_after_bytes: int = 0
    #: answer this many consecutive connections' first request with HTTP 503 ...
    http_503_burst: int = 0
    #: ... starting after this many connections have passed untouched
    http_503_after_connections: int = 0
    #: restart the host servers this long after the launch's MCP traffic begins (None: no restart)
    restart_after_ms: int | None = None

    @property
    def any(self) -> bool:
        return self != LaunchFaults()

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


Draw = Callable[[random.Random], LaunchFaults]


@dataclass(frozen=True, slots=True)
class FaultProfile:
    """A named recipe that draws one launch's faults from a seeded random source."""

    name: str
    description: str
    draw_faults: Draw

    def draw(self, seed: int) -> LaunchFaults:
        """The faults for the launch with this seed; the same seed always gives the same faults."""
        return self.draw_faults(random.Random(seed))


def _none(_: random.Random) -> LaunchFaults:
    return LaunchFaults()


def _flaky(rng: random.Random) -> LaunchFaults:
    burst = rng.random() < 0.5
    return LaunchFaults(
        latency_ms=rng.randint(2, 30),
        jitter_ms=rng.randint(0, 50),
        reset_probability=round(rng.uniform(0.05, 0.2), 3),
        reset_after_bytes=rng.randint(0, 2048),
        http_503_burst=rng.randint(1, 3) if burst else 0,
        http_503_after_connections=rng.randint(0, 3) if burst else 0,
    )


def _restart(rng: random.Random) -> LaunchFaults:
    restart = rng.random() < 0.5
    return LaunchFaults(restart_after_ms=rng.randint(0, 3000) if restart else None)


def _hostile(rng: random.Random) -> LaunchFaults:
    return LaunchFaults(
        latency_ms=rng.randint(10, 80),
        jitter_ms=rng.randint(20, 150),
        reset_probability=round(rng.uniform(0.15, 0.35), 3),
        reset_after_bytes=rng.randint(0, 2048),
        http_503_burst=rng.randint(2, 5),
        http_503_after_connections=rng.randint(0, 3),
        restart_after_ms=rng.randint(0, 3000) if rng.random() < 0.5 else None,
    )


PROFILES: dict[str, FaultProfile] = {
    profile.name: profile
    for profile in (
        FaultProfile("none", "no faults: the baseline", _none),
        FaultProfile("flaky", "latency jitter, mid-stream connection resets, bursts of HTTP 503", _flaky),
        FaultProfile("restart", "host servers restarted while a launch uses them", _restart),
        FaultProfile("hostile", "jitter, resets, 503 bursts and restarts, all harder", _hostile),
    )
}


def profile_named(name: str) -> FaultProfile:
    """The profile called ``name``; an unknown name is a `SoakConfigError` listing the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        raise SoakConfigError(
            f"unknown fault profile {name!r}; choose one of {', '.join(PROFILES)}"
        ) from None


def launch_seed(run_seed: int, index: int) -> int:
    """The seed of launch ``index`` in a run seeded with ``run_seed``: stable, independent of order."""
    digest = hashlib.sha256(f"agentdock-soak:{run_seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:6], "big")
