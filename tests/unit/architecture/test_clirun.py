"""The console-script contract (agentdock.clirun), and that every console script follows it."""

from __future__ import annotations

import argparse
import importlib
import io
import logging
import subprocess
import sys

import pytest

from agentdock.clirun import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    LOG_FORMAT,
    UsageError,
    run_cli,
    setup_logging,
)


class _Refused(Exception):
    pass


class _RefusedHarder(_Refused):
    pass


def _raise(exc: BaseException) -> int:
    raise exc


def test_the_body_result_is_the_exit_code() -> None:
    assert run_cli("p", lambda: 7) == 7


@pytest.mark.parametrize(
    ("exc", "code", "line"),
    [
        (KeyboardInterrupt(), EXIT_INTERRUPTED, "p: interrupted"),
        (UsageError("--a and --b exclude each other"), EXIT_USAGE, "p: --a and --b exclude each other"),
        (SystemExit("bad flag"), EXIT_USAGE, "p: bad flag"),
        (_Refused("no"), 1, "p: no"),
        (_RefusedHarder("never"), 3, "p: never"),  # the most specific listed class wins
    ],
)
def test_each_kind_of_ending_has_its_code_and_one_line(exc: BaseException, code: int, line: str) -> None:
    err = io.StringIO()
    assert run_cli("p", lambda: _raise(exc), errors={_Refused: 1, _RefusedHarder: 3}, stderr=err) == code
    assert err.getvalue().strip() == line


def test_argparse_usage_errors_become_exit_two_without_a_traceback() -> None:
    parser = argparse.ArgumentParser(prog="p")
    parser.add_argument("--n", type=int, required=True)
    assert run_cli("p", lambda: int(parser.parse_args([]).n)) == EXIT_USAGE
    assert run_cli("p", lambda: _raise(SystemExit(0))) == 0  # --help


def test_an_unlisted_error_is_a_bug_and_propagates() -> None:
    with pytest.raises(ZeroDivisionError):
        run_cli("p", lambda: 1 // 0)


def test_logging_uses_the_one_format(capsys: pytest.CaptureFixture[str]) -> None:
    stream = io.StringIO()
    setup_logging("info", stream=stream)
    try:
        logging.getLogger("agentdock.test").info("hello")
    finally:
        setup_logging("WARNING")
    record = stream.getvalue().strip()
    assert record.endswith("agentdock.test[" + str(__import__("os").getpid()) + "] INFO hello")
    assert "%(process)d" in LOG_FORMAT


CONSOLE_SCRIPTS = {
    "agentdock": "agentdock.cli",
    "mcp-proxy": "agentdock.proxy.cli",
    "qms": "agentdock.qms.cli",
    "qms-mcp": "agentdock.qms.mcp",
    "git-mcp": "agentdock.gitgate.server",
}


@pytest.mark.parametrize("module", sorted(set(CONSOLE_SCRIPTS.values())))
def test_every_console_script_main_runs_through_run_cli(module: str) -> None:
    source = importlib.import_module(module).__file__
    assert source is not None
    with open(source, encoding="utf-8") as f:
        assert "run_cli(" in f.read()


@pytest.mark.parametrize("module", sorted(set(CONSOLE_SCRIPTS.values())))
def test_every_console_script_answers_a_bad_flag_with_exit_two(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", f"import sys, {module} as m; sys.exit(m.main(['--no-such-flag']))"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == EXIT_USAGE, done.stderr
    assert "Traceback" not in done.stderr
