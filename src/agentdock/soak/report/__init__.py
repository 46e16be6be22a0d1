"""The soak report: ``report.json`` and ``report.html`` (with inline SVG), and the console view."""

from agentdock.soak.report.console import ProgressObserver, summary_panel
from agentdock.soak.report.data import (
    BASELINE,
    EXIT_BELOW_BAR,
    EXIT_INCONCLUSIVE,
    EXIT_OK,
    EXIT_USAGE,
    REPORT_SCHEMA,
    Baseline,
    Verdict,
    build_report,
    judge,
    write_report,
)

__all__ = [
    "BASELINE",
    "EXIT_BELOW_BAR",
    "EXIT_INCONCLUSIVE",
    "EXIT_OK",
    "EXIT_USAGE",
    "REPORT_SCHEMA",
    "Baseline",
    "ProgressObserver",
    "Verdict",
    "build_report",
    "judge",
    "summary_panel",
    "write_report",
]
