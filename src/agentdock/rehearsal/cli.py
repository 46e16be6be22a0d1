"""``agentdock rehearse``: run a scenario in real agent containers with the scripted model.

    agentdock rehearse --list
    agentdock rehearse cr-lifecycle [--project-root DIR] [--workdir DIR] [--record FILE]
    agentdock rehearse my-scenario.yaml
    agentdock rehearse restart-mid-session --repeat 10   # per-call / per-session figures

Exit status: 0 every expectation held; 1 a step or turn failed; 2 bad usage or
a scenario file that does not parse; 3 the run could not be set up.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from agentdock.clirun import run_cli, setup_logging
from agentdock.defaults import IMAGE_TAG
from agentdock.rehearsal.errors import RehearsalSetupError, ScenarioError
from agentdock.rehearsal.options import RehearsalOptions
from agentdock.rehearsal.repeat import RunSummary, summarize_runs
from agentdock.rehearsal.scenario import Scenario, load_scenario, shipped_scenarios
from agentdock.rehearsal.timeline import HEADER, step_rows, summary

if TYPE_CHECKING:
    from agentdock.rehearsal.runner import RehearsalResult

__all__ = ["main", "parse_args"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_SETUP = 0, 1, 2, 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agentdock rehearse",
        description="Run real Claude Code sessions in agent containers, driven by a scripted model "
        "(no model API, no token spent). Exit 0 only when every expectation held.",
    )
    parser.add_argument("scenario", nargs="?", help="a shipped scenario's name (see --list) or a YAML file")
    parser.add_argument("--list", action="store_true", help="print the shipped scenarios, one per line")
    parser.add_argument(
        "--project-root", type=Path, help="run in this QMS project (default: a fresh throw-away one)"
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        help="make the throw-away project here and keep it (with --repeat: DIR/run-N each; default: a temp dir)",
    )
    parser.add_argument("--image", help="agent image tag (default: $AGENTDOCK_IMAGE, else claude-agent)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the image first")
    parser.add_argument(
        "--turn-timeout", type=float, default=300.0, help="seconds one turn may take (default 300)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run the scenario N times and report per-call/per-session figures",
    )
    parser.add_argument("--record", type=Path, help="write every step, turn and model request as JSON here")
    parser.add_argument(
        "--allow-push", action="store_true", help="let a pushing scenario push from --project-root"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log the scripted model's decisions")
    return parser


def parse_args(
    argv: Sequence[str], environ: Mapping[str, str]
) -> tuple[argparse.Namespace, RehearsalOptions]:
    args = _parser().parse_args(list(argv))
    if not args.list and not args.scenario:
        _parser().error("name a scenario (or --list)")
    if not 1 <= args.repeat <= 1000:
        _parser().error("--repeat must be between 1 and 1000")
    if args.repeat > 1 and args.project_root is not None:
        _parser().error("--repeat runs on throw-away projects only (no --project-root)")
    if args.turn_timeout <= 0:
        _parser().error("--turn-timeout must be positive")
    if args.project_root is not None and args.workdir is not None:
        _parser().error("--workdir is for the throw-away project; it cannot go with --project-root")
    options = RehearsalOptions(
        project_root=args.project_root,
        workdir=args.workdir,
        image=args.image or environ.get("AGENTDOCK_IMAGE") or IMAGE_TAG,
        rebuild=args.rebuild,
        turn_timeout_s=args.turn_timeout,
        allow_push=args.allow_push,
    )
    return args, options


def _say(line: str) -> None:
    print(line, flush=True)


def _report(result: RehearsalResult) -> None:
    print()
    print(f"rehearsal {result.scenario.name} (run {result.run_id}): {'PASSED' if result.ok else 'FAILED'}")
    print(HEADER)
    for line in step_rows(result.steps):
        print(line)
    for line in summary(result.steps, result.turns, result.model.requests):
        print(line)
    checked = "QMS audit trail" + ("" if result.notes else " and git-mcp's record")
    print(f"executions ({checked}): " + ("each call once" if not result.audit else "MISMATCH"))
    for line in result.audit:
        print(f"  ! {line}")
    for line in result.notes:
        print(f"  note: {line}")


def _list() -> int:
    for name, scenario in shipped_scenarios().items():
        print(f"{name}\t{scenario.description}")
    return EXIT_OK


def _main(argv: Sequence[str], environ: Mapping[str, str]) -> int:
    args, options = parse_args(argv, environ)
    setup_logging("INFO" if args.verbose else "WARNING")
    # watchdog re-watching Claude Code's short-lived lock files in the agents' config folders: noise.
    warnings.filterwarnings("ignore", message="Callback with id", category=RuntimeWarning)
    if args.list:
        return _list()
    scenario: Scenario = load_scenario(args.scenario)
    try:
        from agentdock.rehearsal.runner import rehearse
    except ImportError as exc:  # the scripted model builds its events from the anthropic SDK's types
        raise RehearsalSetupError(
            f"the scripted model needs the anthropic SDK ({exc}); install it with: "
            "pip install 'agentdock[rehearsal]' (./launch.sh's .venv has it)"
        ) from exc
    print(f"rehearsal {scenario.name}: {scenario.description}", flush=True)
    results: list[RehearsalResult] = []
    for number in range(1, args.repeat + 1):
        if args.repeat > 1:
            print(f"\n=== run {number}/{args.repeat} ===", flush=True)
        run_options = options
        if args.repeat > 1 and options.workdir is not None:  # keep each run's project (and server logs)
            run_options = replace(options, workdir=options.workdir / f"run-{number}")
        try:
            result = anyio.run(rehearse, scenario, run_options, _say)
        except RehearsalSetupError as exc:
            raise RehearsalSetupError(f"setup failed: {exc}") from exc
        _report(result)
        results.append(result)
    if args.repeat > 1:
        print(f"\n{scenario.name} x{args.repeat}:")
        for line in summarize_runs([RunSummary(r.steps, r.ok, r.audit) for r in results]):
            print(f"  {line}")
    if args.record is not None:
        data = results[0].to_json() if len(results) == 1 else {"runs": [r.to_json() for r in results]}
        args.record.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        print(f"record: {args.record}")
    return EXIT_OK if all(r.ok for r in results) else EXIT_FAILED


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """``agentdock rehearse``; containers and servers are removed also on Ctrl-C (exit 130)."""
    return run_cli(
        "agentdock rehearse",
        lambda: _main(sys.argv[1:] if argv is None else argv, os.environ if environ is None else environ),
        errors={ScenarioError: EXIT_USAGE, RehearsalSetupError: EXIT_SETUP},
    )
