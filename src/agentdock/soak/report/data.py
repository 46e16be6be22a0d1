"""The soak report: ``DIR/report.json`` (figures) and ``DIR/report.html`` (figures + plots).

Per path — ``proxy`` (Claude Code and an SDK client through our stdio proxy)
and ``direct`` (Claude Code's own ``type: http`` client) — the report gives
attempts, successes, failures, the success rate with its Wilson 95 % interval,
failures by step, and latency percentiles.  Container start and readiness are
shared by both paths.  The reference project's "40/40" sits beside it as the
baseline: 40 out of 40 only shows a success rate of at least ~0.912.

The verdict and the exit code live here too, so the CLI and tests agree:

====  =================================================================
0     the proxy path met the bar (no failure; or ``--min-success`` met)
1     the proxy path failed at least once (or fell below ``--min-success``)
2     usage: bad options (the CLI returns this before running)
3     inconclusive: launches that never reached the MCP paths (container
      did not start or become ready, the launch step crashed), or setup failed
====  =================================================================
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentdock.soak.errors import RecordError
from agentdock.soak.records import PATHS, LaunchRecord, PathResult
from agentdock.soak.runner import SoakResult
from agentdock.soak.stats import summarize_latencies, wilson_interval

__all__ = [
    "BASELINE",
    "EXIT_BELOW_BAR",
    "EXIT_INCONCLUSIVE",
    "EXIT_OK",
    "EXIT_USAGE",
    "KIND_OF_MODE",
    "REPORT_SCHEMA",
    "Baseline",
    "Verdict",
    "build_report",
    "evidence_row",
    "judge",
    "read_beside",
    "write_report",
]

REPORT_SCHEMA = "agentdock.soak.report/1"

EXIT_OK = 0
EXIT_BELOW_BAR = 1
EXIT_USAGE = 2
EXIT_INCONCLUSIVE = 3

CONFIDENCE = 0.95


@dataclass(frozen=True, slots=True)
class Baseline:
    """A reference result to put ours beside."""

    label: str
    successes: int
    trials: int

    def as_dict(self) -> dict[str, Any]:
        interval = wilson_interval(self.successes, self.trials, CONFIDENCE)
        return {
            "label": self.label,
            "successes": self.successes,
            "trials": self.trials,
            "success_rate": self.successes / self.trials,
            "wilson95": {"lower": interval.lower, "upper": interval.upper},
        }


#: The reference project's evidence: 30 scripted initialize runs plus 10 manual launches, all passing.
BASELINE = Baseline("reference project: 40/40 (30 scripted + 10 manual)", 40, 40)


@dataclass(frozen=True, slots=True)
class Verdict:
    passed: bool
    exit_code: int
    reasons: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "exit_code": self.exit_code, "reasons": list(self.reasons)}


def _calls_block(results: Sequence[PathResult]) -> dict[str, Any] | None:
    """Per-call figures of session trials (None when no result carries calls): every call of every
    session counts, with its Wilson interval, latency, and the calls that followed each kind of fault."""
    everything = [call for result in results for call in result.calls]
    if not everything and all(result.duplicates is None for result in results):
        return None
    calls = [call for call in everything if call.ran]  # a call never issued has no outcome to count
    ok = sum(call.ok for call in calls)
    interval = wilson_interval(ok, len(calls), CONFIDENCE)
    by_event: dict[str, dict[str, int]] = {}
    for call in calls:
        if call.event is not None:
            row = by_event.setdefault(call.event, {"calls": 0, "ok": 0})
            row["calls"] += 1
            row["ok"] += call.ok
    failed_tools = Counter(call.tool for call in calls if not call.ok)
    return {
        "total": len(calls),
        "ok": ok,
        "not_run": len(everything) - len(calls),
        "sessions_completed": sum(result.ok for result in results),
        "success_rate": ok / len(calls) if calls else None,
        "wilson95": {"lower": interval.lower, "upper": interval.upper},
        "latency_ms": summarize_latencies(call.latency_ms for call in calls if call.ok).as_dict(),
        "after_fault": dict(sorted(by_event.items())),
        "failures_by_tool": dict(sorted(failed_tools.items(), key=lambda kv: (-kv[1], kv[0]))),
        "duplicates": sum(result.duplicates or 0 for result in results),
        "lost": sum(result.lost or 0 for result in results),
    }


def _path_block(records: Sequence[LaunchRecord], path: str) -> dict[str, Any]:
    results = [(r, r.paths[path]) for r in records if path in r.paths]
    attempts = len(results)
    successes = sum(1 for _, result in results if result.ok)
    interval = wilson_interval(successes, attempts, CONFIDENCE)
    steps: dict[str, list[float]] = {}
    for _, result in results:
        for step, ms in result.steps_ms.items():
            steps.setdefault(step, []).append(ms)
    by_step = Counter(result.failed_step for _, result in results if not result.ok)
    block: dict[str, Any] = {
        "attempts": attempts,
        "successes": successes,
        "failures": attempts - successes,
        "success_rate": successes / attempts if attempts else None,
        "wilson95": {"lower": interval.lower, "upper": interval.upper},
        "failures_by_step": dict(sorted(by_step.items(), key=lambda kv: (-kv[1], str(kv[0])))),
        "latency_ms": {
            "first_response": summarize_latencies(
                result.first_response_ms for _, result in results
            ).as_dict(),
            **{step: summarize_latencies(values).as_dict() for step, values in sorted(steps.items())},
        },
    }
    calls = _calls_block([result for _, result in results])
    if calls is not None:
        block["calls"] = calls
    return block


def _failures(records: Iterable[LaunchRecord]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for record in records:
        if record.infra_error is not None:
            rows.append(
                {
                    "index": record.index,
                    "seed": record.seed,
                    "path": None,
                    "step": "container",
                    "error": record.infra_error,
                }
            )
        for path, result in record.paths.items():
            if not result.ok:
                rows.append(
                    {
                        "index": record.index,
                        "seed": record.seed,
                        "path": path,
                        "step": result.failed_step,
                        "error": result.error,
                    }
                )
    return rows


def judge(report: dict[str, Any], min_success: float | None) -> Verdict:
    """Pass/fail and the exit code, from a built report's figures."""
    proxy = report["paths"]["proxy"]
    reasons: list[str] = []
    code = EXIT_OK
    if proxy["attempts"] == 0:
        reasons.append("the proxy path was never attempted")
        code = EXIT_INCONCLUSIVE
    elif min_success is None:
        if proxy["failures"]:
            reasons.append(f"proxy path failed {proxy['failures']} of {proxy['attempts']} times")
            code = EXIT_BELOW_BAR
    elif proxy["success_rate"] < min_success:
        reasons.append(
            f"proxy success rate {proxy['success_rate']:.4f} is below --min-success {min_success:g}"
        )
        code = EXIT_BELOW_BAR
    infra = report["launches"]["infrastructure_failures"]
    if infra:
        reasons.append(f"{infra} launch(es) never reached the MCP paths (container or harness failure)")
        if code == EXIT_OK:
            code = EXIT_INCONCLUSIVE
    if report["run"]["interrupted"]:
        reasons.append(
            f"interrupted after {report['launches']['completed']} of {report['launches']['planned']}"
        )
        if code == EXIT_OK:
            code = EXIT_INCONCLUSIVE
    return Verdict(code == EXIT_OK, code, tuple(reasons))


#: The noun of one unit of evidence per soak mode (a mode missing here reads as its own name).
KIND_OF_MODE = {"launch": "container launches", "connect": "connection trials", "session": "sessions"}


def evidence_row(report: dict[str, Any], source: str | None = None) -> dict[str, Any]:
    """One row of the side-by-side evidence table: a run's proxy path, by kind of evidence."""
    run = report.get("run", {})
    proxy = report["paths"]["proxy"]
    mode = str(run.get("mode", "launch"))
    return {
        "kind": KIND_OF_MODE.get(mode, mode),
        "profile": run.get("profile"),
        "successes": proxy["successes"],
        "trials": proxy["attempts"],
        "wilson95": proxy["wilson95"],
        "source": source,
    }


def read_beside(folders: Iterable[Path]) -> list[dict[str, Any]]:
    """Evidence rows of earlier runs' ``report.json``; one that cannot be read is a `RecordError`."""
    rows = []
    for folder in folders:
        path = folder / "report.json"
        try:
            rows.append(evidence_row(json.loads(path.read_text(encoding="utf-8")), str(folder)))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise RecordError(f"cannot read the report beside this run, {path}: {exc}") from exc
    return rows


def build_report(result: SoakResult, beside: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """The JSON-ready report of a run; ``beside``: evidence rows of other runs (`read_beside`)."""
    records = sorted(result.records, key=lambda r: r.index)
    config = result.config
    completed = len(records)
    minutes = result.duration_s / 60.0
    report: dict[str, Any] = {
        "schema": REPORT_SCHEMA,
        "run": {
            "mode": config.mode,
            "launches": config.launches,
            "workers": config.workers,
            "profile": config.profile,
            "seed": config.seed,
            "min_success": config.min_success,
            "launch_timeout_s": config.launch_timeout_s,
            "replay": list(config.replay),
            "proxy_retries": config.proxy_retries,
            "started_at": result.started_at,
            "finished_at": result.finished_at,
            "duration_s": result.duration_s,
            "interrupted": result.interrupted,
            "notes": list(result.notes),
        },
        "launches": {
            "planned": config.launches,
            "completed": completed,
            "all_ok": sum(1 for r in records if r.ok),
            "infrastructure_failures": sum(1 for r in records if r.infra_error is not None),
            "rate_per_minute": completed / minutes if minutes > 0 else None,
        },
        "latency_ms": {
            "container_start": summarize_latencies(r.container_start_ms for r in records).as_dict(),
            "readiness": summarize_latencies(r.readiness_ms for r in records).as_dict(),
            "launch_total": summarize_latencies(r.duration_ms for r in records).as_dict(),
        },
        "paths": {path: _path_block(records, path) for path in PATHS},
        "baseline": BASELINE.as_dict(),
        "failures": _failures(records),
    }
    report["evidence"] = [evidence_row(report), *beside]
    report["verdict"] = judge(report, config.min_success).as_dict()
    return report


def write_report(
    directory: Path, report: dict[str, Any], records: Sequence[LaunchRecord]
) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.html`` into ``directory``; return their paths."""
    from agentdock.soak.report.html import render_html

    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / "report.json"
    html_path = directory / "report.html"
    json_path.write_text(json.dumps(report, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    html_path.write_text(render_html(report, records), encoding="utf-8")
    return json_path, html_path
