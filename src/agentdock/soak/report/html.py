"""``report.html``: one self-contained page (inline CSS and SVG) a person can open anywhere."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

from agentdock.soak.records import PATHS, LaunchRecord
from agentdock.soak.report.svg import Band, Series, ecdf_chart, line_chart
from agentdock.soak.stats import wilson_interval

__all__ = ["render_html"]

COLOURS = {
    "proxy": "#1f6fb4",
    "direct": "#e3761b",
    "baseline": "#6b6b6b",
    "container": "#2a9d55",
    "ready": "#8e44ad",
}

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:980px;color:#1d1d1f;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem} h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0} th,td{padding:.25rem .6rem;border-bottom:1px solid #eee;text-align:right}
th:first-child,td:first-child{text-align:left} .pass{color:#1a7f37;font-weight:600} .fail{color:#c62828;font-weight:600}
.muted{color:#666} svg{max-width:100%;height:auto;background:#fff} svg text{font-size:11px;fill:#333}
svg .title{font-size:13px;font-weight:600} svg .axis{stroke:#444} svg .grid{stroke:#e6e6e6}
pre{background:#f6f8fa;padding:.6rem;overflow:auto;max-height:24rem;font-size:12px} details{margin:.3rem 0}
td.err{text-align:left;max-width:32rem;word-break:break-word}
"""


#: What the two paths are, per soak mode (the first paragraph under the success table).
PATH_TEXT = {
    "launch": "proxy: Claude Code (<code>claude mcp list</code>) and an SDK client through "
    "<code>/proxy/mcp_proxy.py</code>; direct: Claude Code's own <code>type: http</code> client.",
    "connect": "proxy: a fresh <code>/proxy/mcp_proxy.py</code> per trial, driven by an SDK client "
    "(initialize, tools/list, one tool call); direct: the SDK's own Streamable HTTP client.",
    "session": "A unit is one scripted 20-call <code>claude -p</code> session, fully completed. proxy: "
    "through <code>/proxy/mcp_proxy.py</code>; direct: through Claude Code's own <code>type: http</code> client.",
}


def _num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return escape(str(value))


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.2f} %"


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _summary_table(report: dict[str, Any]) -> str:
    rows = []
    for path in PATHS:
        block = report["paths"][path]
        wilson = block["wilson95"]
        rows.append(
            f"<tr><td>{escape(path)}</td><td>{block['successes']}/{block['attempts']}</td>"
            f"<td>{_rate(block['success_rate'])}</td><td>{wilson['lower']:.4f}</td><td>{wilson['upper']:.4f}</td>"
            f"<td>{block['failures']}</td></tr>"
        )
    base = report["baseline"]
    rows.append(
        f"<tr class='muted'><td>{escape(base['label'])}</td><td>{base['successes']}/{base['trials']}</td>"
        f"<td>{_rate(base['success_rate'])}</td><td>{base['wilson95']['lower']:.4f}</td>"
        f"<td>{base['wilson95']['upper']:.4f}</td><td>0</td></tr>"
    )
    head = "<tr><th>path</th><th>ok/attempts</th><th>rate</th><th>Wilson 95 % lower</th><th>upper</th><th>failures</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _calls_table(report: dict[str, Any]) -> str:
    """Session soaks: per-call figures per path, and how the calls right after each kind of fault fared."""
    blocks = {path: report["paths"][path].get("calls") for path in PATHS}
    if not any(blocks.values()):
        return ""
    head = (
        "<tr><th>path</th><th>sessions fully completed</th><th>calls ok/run</th><th>Wilson 95 % lower</th>"
        "<th>not run</th><th>duplicates</th><th>lost</th><th>p50 ms</th><th>p99 ms</th></tr>"
    )
    rows = []
    events: set[str] = set()
    for path, calls in blocks.items():
        if not calls:
            continue
        events.update(calls["after_fault"])
        rows.append(
            f"<tr><td>{escape(path)}</td><td>{calls['sessions_completed']}/{report['paths'][path]['attempts']}</td>"
            f"<td>{calls['ok']}/{calls['total']}</td><td>{calls['wilson95']['lower']:.4f}</td>"
            f"<td>{calls['not_run']}</td><td>{calls['duplicates']}</td><td>{calls['lost']}</td>"
            f"<td>{_num(calls['latency_ms']['p50'])}</td><td>{_num(calls['latency_ms']['p99'])}</td></tr>"
        )
    fault_head = "<tr><th>call right after</th>" + "".join(
        f"<th>{escape(path)} ok/calls</th>" for path, calls in blocks.items() if calls
    ) + "</tr>"  # fmt: skip
    fault_rows = "".join(
        f"<tr><td>{escape(event)}</td>"
        + "".join(
            f"<td>{c['after_fault'].get(event, {}).get('ok', 0)}/{c['after_fault'].get(event, {}).get('calls', 0)}</td>"
            for c in blocks.values()
            if c
        )
        + "</tr>"
        for event in sorted(events)
    )
    return (
        "<h2>Calls in sessions</h2><p>Every call of every session; a call after a failure is not run. "
        "Duplicates and lost calls come from the servers' own records (QMS audit trail, git-mcp's record).</p>"
        f"<table>{head}{''.join(rows)}</table><table>{fault_head}{fault_rows}</table>"
    )


def _latency_table(report: dict[str, Any]) -> str:
    rows: list[tuple[str, dict[str, Any]]] = [
        ("container start", report["latency_ms"]["container_start"]),
        ("readiness", report["latency_ms"]["readiness"]),
    ]
    for path in PATHS:
        for step, summary in report["paths"][path]["latency_ms"].items():
            rows.append((f"{path}: {step.replace('_', ' ')}", summary))
    rows.append(("whole launch", report["latency_ms"]["launch_total"]))
    head = "<tr><th>ms</th><th>n</th><th>p50</th><th>p95</th><th>p99</th><th>max</th></tr>"
    body = "".join(
        f"<tr><td>{escape(name)}</td><td>{s['count']}</td><td>{_num(s['p50'])}</td><td>{_num(s['p95'])}</td>"
        f"<td>{_num(s['p99'])}</td><td>{_num(s['max'])}</td></tr>"
        for name, s in rows
    )
    return f"<table>{head}{body}</table>"


def _success_over_time(records: Sequence[LaunchRecord], baseline_lower: float) -> str:
    series: list[Series] = []
    bands: list[Band] = []
    lowest = baseline_lower
    for path in PATHS:
        ok = total = 0
        points: list[tuple[float, float]] = []
        lower: list[tuple[float, float]] = []
        upper: list[tuple[float, float]] = []
        marks: list[float] = []
        for record in records:
            outcome = record.path_ok(path)
            if outcome is None:
                continue
            total += 1
            ok += int(outcome)
            if not outcome:
                marks.append(float(record.index))
            interval = wilson_interval(ok, total)
            points.append((float(record.index), ok / total))
            lower.append((float(record.index), interval.lower))
            upper.append((float(record.index), interval.upper))
        if points:
            lowest = min(lowest, *(y for _, y in lower))
            series.append(Series(path, COLOURS[path], points, marks=marks))
            bands.append(Band(COLOURS[path], lower, upper))
    if records:
        xs = (float(records[0].index), float(records[-1].index))
        series.append(
            Series(
                "40/40 bound",
                COLOURS["baseline"],
                [(xs[0], baseline_lower), (xs[1], baseline_lower)],
                dashed=True,
            )
        )
    floor = max(0.0, (int(lowest * 10) / 10.0) - 0.05)
    return line_chart(
        "Cumulative success rate with Wilson 95 % band (ticks: failed launches)",
        series,
        x_label="launch index",
        y_label="success rate",
        y_range=(floor, 1.0),
        bands=bands,
    )


def _latency_charts(records: Sequence[LaunchRecord]) -> list[str]:
    charts = [
        ecdf_chart(
            "Container start and readiness",
            [
                (
                    "container start",
                    COLOURS["container"],
                    [r.container_start_ms for r in records if r.container_start_ms is not None],
                ),
                (
                    "readiness",
                    COLOURS["ready"],
                    [r.readiness_ms for r in records if r.readiness_ms is not None],
                ),
            ],
            x_label="milliseconds",
        ),
        ecdf_chart(
            "First MCP response, proxy vs direct",
            [
                (
                    path,
                    COLOURS[path],
                    [
                        v
                        for r in records
                        if path in r.paths and (v := r.paths[path].first_response_ms) is not None
                    ],
                )
                for path in PATHS
            ],
            x_label="milliseconds",
        ),
    ]
    shared_steps = sorted({step for r in records for result in r.paths.values() for step in result.steps_ms})
    for step in shared_steps:
        samples = [
            (
                path,
                COLOURS[path],
                [
                    v
                    for r in records
                    if path in r.paths and (v := r.paths[path].steps_ms.get(step)) is not None
                ],
            )
            for path in PATHS
        ]
        charts.append(ecdf_chart(f"Step {step.replace('_', ' ')}", samples, x_label="milliseconds"))
    return charts


def _failures(records: Sequence[LaunchRecord]) -> str:
    failed = [r for r in records if not r.ok]
    if not failed:
        return "<p>No launch failed.</p>"
    parts = []
    for record in failed:
        what = [record.infra_error] if record.infra_error else []
        what += [
            f"{path} failed at {res.failed_step}: {res.error}"
            for path, res in record.paths.items()
            if not res.ok
        ]
        evidence = "".join(
            f"<details><summary>{escape(name)} ({len(text):,} chars)</summary><pre>{escape(text)}</pre></details>"
            for name, text in record.evidence.items()
        )
        parts.append(
            f"<h3>launch {record.index} · seed {record.seed}</h3><ul>"
            + "".join(f"<li>{escape(line or '')}</li>" for line in what)
            + f"</ul><p class='muted'>faults: {escape(str(dict(record.faults)))}</p>{evidence}"
        )
    return "".join(parts)


def render_html(report: dict[str, Any], records: Sequence[LaunchRecord]) -> str:
    """The whole page for a built report and its records."""
    ordered = sorted(records, key=lambda r: r.index)
    run = report["run"]
    verdict = report["verdict"]
    status = "<span class='pass'>PASS</span>" if verdict["passed"] else "<span class='fail'>FAIL</span>"
    reasons = "".join(f"<li>{escape(reason)}</li>" for reason in verdict["reasons"])
    launches = report["launches"]
    rate = launches["rate_per_minute"]
    charts = "".join(f"<figure>{svg}</figure>" for svg in _latency_charts(ordered))
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>agentdock soak · {escape(run['profile'])} · {launches['completed']} launches</title>"
        f"<style>{CSS}</style></head><body>"
        f"<h1>agentdock soak: {status}</h1>"
        f"<p class='muted'>{launches['completed']}/{launches['planned']} launches · profile <b>{escape(run['profile'])}</b> · "
        f"seed {run['seed']} · {run['workers']} worker(s) · {_when(run['started_at'])} · {run['duration_s']:.0f} s · "
        f"{_num(rate, 2)} launches/min · exit code {verdict['exit_code']}</p>"
        f"<ul>{reasons}</ul>"
        "<h2>Success by path, beside the 40/40 baseline</h2>"
        f"<p>{PATH_TEXT.get(run.get('mode', 'launch'), PATH_TEXT['launch'])} 40/40 only shows ≥ "
        f"{report['baseline']['wilson95']['lower']:.3f} at 95 % confidence.</p>"
        f"{_summary_table(report)}"
        f"<figure>{_success_over_time(ordered, report['baseline']['wilson95']['lower'])}</figure>"
        f"{_calls_table(report)}"
        "<h2>Latency</h2>"
        f"{_latency_table(report)}{charts}"
        "<h2>Failures</h2>"
        f"{_failures(ordered)}"
        "</body></html>\n"
    )
