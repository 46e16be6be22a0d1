"""The terminal side of a soak: a rich progress bar while it runs, one screen of results at the end."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from agentdock.soak.records import PATHS, LaunchRecord
from agentdock.soak.runner import SoakConfig

__all__ = ["ProgressObserver", "summary_panel"]


class ProgressObserver:
    """A `SoakObserver` that draws a progress bar with running failure counts per path."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("[bold]soak"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._task: TaskID | None = None
        self._failed = dict.fromkeys(PATHS, 0)
        self._infra = 0
        self._unit = "launch"

    def __enter__(self) -> ProgressObserver:
        self.progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.progress.stop()

    def _status(self) -> str:
        parts = [f"{path} ✗{count}" if count else f"{path} ✓" for path, count in self._failed.items()]
        if self._infra:
            parts.append(f"infra ✗{self._infra}")
        return " · ".join(parts)

    def started(self, config: SoakConfig) -> None:
        self._unit = "trial" if config.mode == "connect" else "launch"
        self._task = self.progress.add_task("soak", total=config.launches, status=self._status())

    def finished_launch(self, record: LaunchRecord) -> None:
        for path in PATHS:
            if record.path_ok(path) is False:
                self._failed[path] += 1
        if record.infra_error is not None:
            self._infra += 1
        if not record.ok:
            failed = [f"{p}@{r.failed_step}" for p, r in record.paths.items() if not r.ok]
            detail = record.infra_error or ", ".join(failed)
            self.progress.console.print(
                f"[red]{self._unit} {record.index} (seed {record.seed}) failed:[/] {detail}",
                markup=True,
                highlight=False,
            )
        if self._task is not None:
            self.progress.update(self._task, advance=1, status=self._status())


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def summary_panel(report: dict[str, Any], report_dir: str) -> Panel:
    """One screen: success per path with Wilson bounds beside the 40/40 baseline, latencies, verdict."""
    success = Table(title="success, Wilson 95 % interval", title_justify="left")
    for column in ("path", "ok / attempts", "rate", "lower", "upper"):
        success.add_column(column, justify="left" if column == "path" else "right")
    for path in PATHS:
        block = report["paths"][path]
        rate = "–" if block["success_rate"] is None else f"{block['success_rate'] * 100:.2f} %"
        style = "red" if block["failures"] else "green"
        success.add_row(
            f"[{style}]{path}[/]",
            f"{block['successes']}/{block['attempts']}",
            rate,
            f"{block['wilson95']['lower']:.4f}",
            f"{block['wilson95']['upper']:.4f}",
        )
    base = report["baseline"]
    success.add_row(
        "[dim]baseline 40/40[/]",
        f"[dim]{base['successes']}/{base['trials']}",
        f"[dim]{base['success_rate'] * 100:.2f} %",
        f"[dim]{base['wilson95']['lower']:.4f}",
        f"[dim]{base['wilson95']['upper']:.4f}",
    )

    latency = Table(title="latency (ms)", title_justify="left")
    for column in ("measure", "n", "p50", "p95", "p99"):
        latency.add_column(column, justify="left" if column == "measure" else "right")
    rows = [
        ("container start", report["latency_ms"]["container_start"]),
        ("readiness", report["latency_ms"]["readiness"]),
    ]
    rows += [
        (f"{path} first response", report["paths"][path]["latency_ms"]["first_response"]) for path in PATHS
    ]
    for name, summary in rows:
        latency.add_row(
            name, str(summary["count"]), _ms(summary["p50"]), _ms(summary["p95"]), _ms(summary["p99"])
        )

    evidence = Table(title="evidence side by side (proxy path)", title_justify="left")
    for column in ("kind", "profile", "ok / trials", "lower", "upper"):
        evidence.add_column(column, justify="left" if column in ("kind", "profile") else "right")
    for row in report.get("evidence", []):
        evidence.add_row(
            str(row["kind"]) + ("" if row.get("source") is None else " [dim](beside)[/]"),
            str(row["profile"]),
            f"{row['successes']}/{row['trials']}",
            f"{row['wilson95']['lower']:.4f}",
            f"{row['wilson95']['upper']:.4f}",
        )
    evidence.add_row(
        "[dim]baseline[/]", "[dim]–", f"[dim]{base['successes']}/{base['trials']}",
        f"[dim]{base['wilson95']['lower']:.4f}", f"[dim]{base['wilson95']['upper']:.4f}",
    )  # fmt: skip

    tables: list[Table] = [success, latency]
    if any("calls" in report["paths"][path] for path in PATHS):
        tables.append(_calls_table(report))
    tables.append(evidence)

    proxy_lower = report["paths"]["proxy"]["wilson95"]["lower"]
    comparison = f"proxy lower bound {proxy_lower:.4f} vs baseline {base['wilson95']['lower']:.4f}: " + (
        "stronger evidence than 40/40"
        if proxy_lower > base["wilson95"]["lower"]
        else "not yet stronger evidence than 40/40"
    )
    verdict = report["verdict"]
    head = "[bold green]PASS[/]" if verdict["passed"] else "[bold red]FAIL[/]"
    launches = report["launches"]
    rate = launches["rate_per_minute"]
    noun = {"connect": "trials", "session": "sessions"}.get(report["run"].get("mode"), "launches")
    lines = [
        f"{head}  exit {verdict['exit_code']} · profile {report['run']['profile']} · seed {report['run']['seed']} · "
        f"{launches['completed']}/{launches['planned']} {noun} in {report['run']['duration_s']:.0f} s"
        + (f" ({rate:.2f}/min)" if rate else ""),
        comparison,
        *[f"[red]• {reason}[/]" for reason in verdict["reasons"]],
        f"[dim]report: {report_dir}/report.html · {report_dir}/report.json · {report_dir}/launches.jsonl[/]",
    ]
    return Panel(Group(*tables, *lines), title="agentdock soak", expand=False)


def _calls_table(report: dict[str, Any]) -> Table:
    """Per call of the sessions, per path: ok / total with Wilson bounds, duplicates, latency."""
    table = Table(title="calls in sessions, Wilson 95 % interval", title_justify="left")
    columns = ("path", "sessions ok", "calls ok / run", "lower", "not run", "dup", "lost", "p50 ms", "p99 ms")
    for column in columns:
        table.add_column(column, justify="left" if column == "path" else "right")
    for path in PATHS:
        calls = report["paths"][path].get("calls")
        if calls is None:
            continue
        attempts = report["paths"][path]["attempts"]
        table.add_row(
            path,
            f"{calls['sessions_completed']}/{attempts}",
            f"{calls['ok']}/{calls['total']}",
            f"{calls['wilson95']['lower']:.4f}",
            str(calls["not_run"]),
            f"[{'red' if calls['duplicates'] else 'green'}]{calls['duplicates']}[/]",
            str(calls["lost"]),
            _ms(calls["latency_ms"]["p50"]),
            _ms(calls["latency_ms"]["p99"]),
        )
    return table
