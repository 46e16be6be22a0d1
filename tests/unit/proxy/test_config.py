"""The command line: seed-compatible defaults, extra options, clear errors for bad input."""

from __future__ import annotations

import pytest

from agentdock.proxy import cli
from agentdock.proxy.config import ProxyConfig, parse_args
from agentdock.proxy.errors import ConfigError

URL = "http://host.docker.internal:8000/mcp"


def test_defaults_are_three_retries_and_a_ten_second_timeout() -> None:
    config = parse_args([URL])
    assert config == ProxyConfig(url=URL, retries=3, timeout_s=10.0)


def test_an_unavailable_server_is_waited_for_thirty_seconds_by_default() -> None:
    assert parse_args([URL]).retry_window_s == 30.0
    assert parse_args([URL, "--retry-window", "2500"]).retry_window_s == 2.5
    assert parse_args([URL, "--retry-window", "0"]).retry_window_s == 0.0


def test_the_help_explains_the_retry_budget(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--retry-window MS" in text and "0 turns retrying off" in text
    assert "may have reached the server" in text and "never beyond --max-time" in text


def test_the_seed_options_and_the_new_ones_are_parsed() -> None:
    config = parse_args(
        [
            URL,
            "--retries",
            "5",
            "--timeout",
            "2500",
            "--header",
            "Authorization=Bearer a=b",
            "--header",
            "X-A=1",
            "--max-time",
            "60000",
            "--log-level",
            "debug",
            "--no-idempotency-key",
        ]
    )
    assert config.retries == 5
    assert config.timeout_s == 2.5
    assert config.max_time_s == 60.0
    assert config.header_map == {"Authorization": "Bearer a=b", "X-A": "1"}
    assert config.log_level == "debug"
    assert config.idempotency_keys is False


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        ([URL, "--header", "NoEquals"], "expected K=V"),
        ([URL, "--header", "Bad Name=1"], "not a valid HTTP header name"),
        ([URL, "--header", "Mcp-Session-Id=x"], "manages this header"),
        (["ftp://example/mcp"], "http:// or https://"),
        (["not-a-url"], "http:// or https://"),
        ([URL, "--retries", "-1"], "--retries -1"),
        ([URL, "--timeout", "0"], "--timeout 0"),
        ([URL, "--max-time", "-5"], "--max-time -5"),
        ([URL, "--retry-window", "-1"], "--retry-window -1"),
        ([URL, "--idle-timeout", "0"], "--idle-timeout 0"),
        ([URL, "--retries", "many"], "invalid int value"),
        ([], "required"),
    ],
)
def test_bad_arguments_raise_a_config_error_naming_the_problem(argv: list[str], complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint):
        parse_args(argv)


def test_the_environment_supplies_a_bearer_token_unless_a_header_gives_one() -> None:
    env = {"MCP_PROXY_AUTH_TOKEN": "tok", "MCP_PROXY_LOG_LEVEL": "warning"}
    assert parse_args([URL], env).header_map == {"Authorization": "Bearer tok"}
    assert parse_args([URL, "--header", "authorization=Bearer mine"], env).header_map == {
        "authorization": "Bearer mine"
    }
    assert parse_args([URL], env).log_level == "warning"


def test_main_exits_2_with_a_clear_message_on_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([URL, "--header", "oops"]) == 2
    err = capsys.readouterr()
    assert "expected K=V" in err.err and err.out == ""


def test_the_idle_timeout_defaults_to_the_timeout_and_can_be_raised_for_slow_silent_tools() -> None:
    assert parse_args([URL]).idle_timeout_s is None  # Upstream then uses --timeout
    assert parse_args([URL, "--idle-timeout", "60000"]).idle_timeout_s == 60.0
