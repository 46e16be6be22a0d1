"""``agentdock soak``: launch real agent containers (or connect through fresh proxies) again and again.

Usage::

    agentdock soak [--mode launch|connect|session] [--launches N | --trials N | --sessions N] [--workers W]
                   [--faults PROFILE] [--seed S] [--report DIR] [--min-success RATE]
                   [--launch-timeout SECONDS] [--image TAG] [--beside DIR]...
                   [--replay I,J,...]   (with the --seed of an earlier run: rerun those launches)

``--mode`` picks what one unit of evidence is (:data:`MODES`): ``launch`` (the
default) starts a fresh container per launch; ``connect`` runs connection trials
(a fresh proxy process per trial inside long-lived containers, see
`agentdock.soak.connect`); ``session`` runs whole scripted Claude Code
sessions with faults done between calls (`agentdock.rehearsal.sessions`). ``--beside DIR`` puts an earlier run's proxy-path
evidence (another mode, say) in the same table as this run's and the 40/40
baseline.

Writes ``DIR/launches.jsonl`` as it goes, then ``DIR/report.json`` and
``DIR/report.html``; prints a one-screen summary beside the 40/40 baseline.
Exit codes are documented in `agentdock.soak.report.data`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import secrets
import sys
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from pathlib import Path

import anyio
from rich.console import Console

from agentdock.clirun import run_cli
from agentdock.soak.errors import RecordError, SoakConfigError, SoakSetupError
from agentdock.soak.profiles import PROFILES
from agentdock.soak.records import read_launches
from agentdock.soak.report.console import ProgressObserver, summary_panel
from agentdock.soak.report.data import EXIT_INCONCLUSIVE, EXIT_USAGE, build_report, read_beside, write_report
from agentdock.soak.runner import DEFAULT_LAUNCH_TIMEOUT_S, LaunchStep, SoakConfig, SoakResult, run_soak

__all__ = ["MODES", "Environment", "main", "parse_args", "run"]

#: Builds what every launch needs (servers, fault proxies, image) and yields the launch step.
#: It reports set-up progress through the ``say`` callback it is given.
Environment = Callable[[SoakConfig, Callable[[str], None]], AbstractAsyncContextManager[LaunchStep]]

#: ``--mode`` -> (``module:function`` of its `Environment`, the noun for one unit). A new kind of
#: evidence registers here; its environment is imported only when the mode is used.
MODES: dict[str, tuple[str, str]] = {
    "launch": ("agentdock.soak.launch:docker_environment", "launches"),
    "connect": ("agentdock.soak.connect:connect_environment", "trials"),
    # sessions sit on the scripted model (agentdock.rehearsal), which sits on the soak
    "session": ("agentdock.rehearsal.sessions.trial:session_environment", "sessions"),
}


#: A session trial's bound: two sessions (proxy, direct), each bounded at 240 s inside, plus set-up.
SESSION_TRIAL_TIMEOUT_S = 600.0


def environment_for(mode: str) -> Environment:
    """The environment of ``mode`` (imported on use: each mode pulls in its own dependencies)."""
    module, _, name = MODES[mode][0].partition(":")
    environment: Environment = getattr(importlib.import_module(module), name)
    return environment


def _rate(text: str) -> float:
    try:
        value = float(text.rstrip("%")) / (100.0 if text.endswith("%") else 1.0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a rate: {text!r} (use 0.99 or 99%)") from None
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agentdock soak",
        description="Launch real agent containers repeatedly, through the proxy and directly, under "
        "seeded faults; report success with Wilson 95%% intervals and latency percentiles.",
    )
    parser.add_argument(
        "--mode",
        default="launch",
        choices=sorted(MODES),
        help="launch: a fresh container per launch (default); connect: connection trials, a fresh proxy "
        "per trial inside long-lived containers; session: a 20-call scripted Claude Code session per "
        "path, faults done mid-session",
    )
    parser.add_argument(
        "--launches", "--trials", "--sessions", dest="launches", type=int, default=None,
        help="number of launches, trials or sessions (default 40)",
    )  # fmt: skip
    parser.add_argument(
        "--image",
        default=None,
        metavar="TAG",
        help="agent image tag to build/use (default $AGENTDOCK_TEST_IMAGE, else the launcher's claude-agent)",
    )
    parser.add_argument(
        "--beside",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="an earlier run's report folder to show beside this one (repeatable)",
    )
    parser.add_argument("--workers", type=int, default=1, help="launches at once (default 1)")
    parser.add_argument(
        "--faults", default="none", choices=sorted(PROFILES), help="fault profile (default none)"
    )
    parser.add_argument("--seed", type=int, default=None, help="run seed (default: random, printed)")
    parser.add_argument("--report", type=Path, default=Path("reports/soak"), help="report folder")
    parser.add_argument(
        "--min-success",
        type=_rate,
        default=None,
        help="pass when the proxy success rate is at least this (default: any proxy failure fails)",
    )
    parser.add_argument(
        "--launch-timeout",
        type=float,
        default=None,
        help=f"seconds one launch (or trial) may take (default {DEFAULT_LAUNCH_TIMEOUT_S:g}; "
        f"{SESSION_TRIAL_TIMEOUT_S:g} with --mode session, whose trial is two whole sessions)",
    )
    parser.add_argument(
        "--proxy-retries",
        type=int,
        default=None,
        help="--retries of the proxy in the container (default: the launcher's, as ./launch.sh)",
    )
    parser.add_argument(
        "--replay",
        type=_indices,
        default=(),
        metavar="I,J,...",
        help="rerun only these launch indices of the run with --seed (same seeds, same faults)",
    )
    return parser


def _indices(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma list of launch indices: {text!r}") from None


def parse_args(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> SoakConfig:
    """Options -> a frozen `SoakConfig`; bad values raise `SoakConfigError` (argparse errors exit 2)."""
    environ = os.environ if environ is None else environ
    args = _parser().parse_args(list(argv))
    if args.replay and args.seed is None:
        raise SoakConfigError("--replay needs the --seed of the run it replays")
    launches = args.launches if args.launches is not None else (len(args.replay) or 40)
    default_timeout = SESSION_TRIAL_TIMEOUT_S if args.mode == "session" else DEFAULT_LAUNCH_TIMEOUT_S
    return SoakConfig(
        launches=launches,
        workers=args.workers,
        profile=args.faults,
        seed=args.seed if args.seed is not None else secrets.randbelow(2**31),
        report_dir=args.report,
        min_success=args.min_success,
        launch_timeout_s=args.launch_timeout if args.launch_timeout is not None else default_timeout,
        replay=args.replay,
        proxy_retries=args.proxy_retries,
        mode=args.mode,
        image_tag=args.image or environ.get("AGENTDOCK_TEST_IMAGE") or None,
        beside=tuple(args.beside),
    )


async def _soak(config: SoakConfig, environment: Environment, observer: ProgressObserver) -> SoakResult:
    def say(message: str) -> None:
        observer.console.print(f"[dim]setup:[/] {message}", highlight=False)

    async with environment(config, say) as launch:
        return await run_soak(config, launch, observer=observer)


def run(config: SoakConfig, environment: Environment, console: Console) -> int:
    """Run the soak with ``environment``, write the report, print the summary; return the exit code."""
    console.print(
        f"soak: {config.launches} {MODES[config.mode][1]}, {config.workers} worker(s), "
        f"faults [bold]{config.profile}[/], "
        f"seed [bold]{config.seed}[/] (rerun with --seed {config.seed}) -> {config.report_dir}"
    )
    try:
        with ProgressObserver(console) as observer:
            result = anyio.run(_soak, config, environment, observer)
    except SoakSetupError as exc:
        console.print(f"[red]soak could not set up; nothing was measured:[/] {exc}")
        return EXIT_INCONCLUSIVE
    except KeyboardInterrupt:
        result = replace(_recover(config), interrupted=True)
        console.print(f"[yellow]interrupted: reporting the {len(result.records)} launches that finished")
    try:
        beside = read_beside(config.beside)
    except RecordError as exc:
        console.print(f"[yellow]--beside ignored:[/] {exc}")
        beside = []
    report = build_report(result, beside)
    write_report(config.report_dir, report, result.records)
    console.print(summary_panel(report, str(config.report_dir)))
    code: int = report["verdict"]["exit_code"]
    return code


def _recover(config: SoakConfig) -> SoakResult:
    """The launches an interrupted run finished, read back from its launches.jsonl."""
    path = config.report_dir / "launches.jsonl"
    try:
        records = read_launches(path) if path.exists() else []
    except RecordError:
        records = []
    started = min((r.started_at for r in records), default=0.0)
    finished = max((r.started_at + r.duration_ms / 1000.0 for r in records), default=started)
    return SoakResult(config, tuple(sorted(records, key=lambda r: r.index)), started, finished)


def _main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    console = Console()
    try:
        config = parse_args(args)
    except SoakConfigError as exc:
        console.print(f"[red]agentdock soak:[/] {exc}")
        return EXIT_USAGE
    return run(config, environment_for(config.mode), console)


def main(argv: Sequence[str] | None = None) -> int:
    """``agentdock soak``: see :func:`_main`; exit codes, Ctrl-C and errors follow :mod:`agentdock.clirun`."""
    return run_cli("agentdock soak", lambda: _main(argv))
