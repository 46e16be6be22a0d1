"""agentdock.soak: the soak application — launch real agent containers again and again and report.

It sits on the launcher (containers, servers, image) and the harness (TCP fault proxy) and
measures the proxy path against Claude Code's own HTTP client, with Wilson intervals.
``agentdock soak`` is :func:`agentdock.soak.cli.main`; the report lives in :mod:`agentdock.soak.report`.
"""

from agentdock.soak.errors import RecordError, SoakConfigError, SoakError, SoakSetupError
from agentdock.soak.profiles import PROFILES, FaultProfile, LaunchFaults, launch_seed, profile_named
from agentdock.soak.records import (
    EVIDENCE_LIMIT_CHARS,
    PATHS,
    SCHEMA,
    CallResult,
    LaunchLog,
    LaunchRecord,
    PathResult,
    clip_evidence,
    read_launches,
)
from agentdock.soak.runner import (
    LaunchPlan,
    LaunchStep,
    SoakConfig,
    SoakObserver,
    SoakResult,
    run_soak,
)
from agentdock.soak.stats import (
    Interval,
    LatencySummary,
    percentile,
    summarize_latencies,
    wilson_interval,
    z_for_confidence,
)

__all__ = [
    "EVIDENCE_LIMIT_CHARS",
    "PATHS",
    "PROFILES",
    "SCHEMA",
    "CallResult",
    "FaultProfile",
    "Interval",
    "LatencySummary",
    "LaunchFaults",
    "LaunchLog",
    "LaunchPlan",
    "LaunchRecord",
    "LaunchStep",
    "PathResult",
    "RecordError",
    "SoakConfig",
    "SoakConfigError",
    "SoakError",
    "SoakObserver",
    "SoakResult",
    "SoakSetupError",
    "clip_evidence",
    "launch_seed",
    "percentile",
    "profile_named",
    "read_launches",
    "run_soak",
    "summarize_latencies",
    "wilson_interval",
    "z_for_confidence",
]
