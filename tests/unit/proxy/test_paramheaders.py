"""Mcp-Param-* headers agree with the mcp SDK's own emit/validate rules."""

from __future__ import annotations

from typing import Any

import pytest
from mcp.shared.inbound import (
    find_invalid_x_mcp_header,
    mcp_param_headers,
    validate_mcp_param_headers,
    x_mcp_header_map,
)

from agentdock.proxy.paramheaders import ToolHeaderMaps, header_map, param_headers

SCHEMAS: list[dict[str, Any]] = [
    {
        "type": "object",
        "properties": {"region": {"type": "string", "x-mcp-header": "Region"}, "n": {"type": "integer"}},
    },
    {
        "type": "object",
        "properties": {
            "outer": {"type": "object", "properties": {"id": {"type": "integer", "x-mcp-header": "Id"}}},
            "flag": {"type": "boolean", "x-mcp-header": "Flag"},
        },
    },
    {"type": "object", "properties": {"x": {"type": "number", "x-mcp-header": "X"}}},  # number: invalid
    {
        "type": "object",
        "properties": {
            "a": {"type": "string", "x-mcp-header": "Dup"},
            "b": {"type": "string", "x-mcp-header": "dup"},
        },
    },
    {"type": "object", "properties": {"a": {"type": "string", "x-mcp-header": "not a token"}}},
    {
        "type": "object",
        "allOf": [{"properties": {"a": {"type": "string", "x-mcp-header": "A"}}}],
    },  # off-chain
    {"type": "object", "properties": {"a": {"type": "string", "default": {"x-mcp-header": "ignored"}}}},
    {"type": "object", "properties": {}},
]


@pytest.mark.parametrize("schema", SCHEMAS)
def test_valid_and_invalid_annotations_are_judged_as_the_sdk_judges_them(schema: dict[str, Any]) -> None:
    ours = header_map(schema)
    if find_invalid_x_mcp_header(schema) is not None:
        assert ours is None
    else:
        assert (ours or {}) == x_mcp_header_map(schema)


@pytest.mark.parametrize(
    "arguments",
    [
        {"region": "eu-west", "n": 1},
        {"region": "caf\u00e9 ", "n": 1},
        {"region": None},
        {},
        {"outer": {"id": 7}, "flag": False},
        {"outer": "not an object", "flag": True},
    ],
)
def test_rendered_headers_match_the_sdk_and_pass_its_validation(arguments: dict[str, Any]) -> None:
    for schema in SCHEMAS[:2]:
        mapping = header_map(schema)
        assert mapping is not None
        headers = param_headers(mapping, arguments)
        assert headers == mcp_param_headers(x_mcp_header_map(schema), arguments)
        assert (
            validate_mcp_param_headers(schema, arguments, {k.lower(): v for k, v in headers.items()}) is None
        )


def test_annotations_are_learned_from_tools_list_results() -> None:
    maps = ToolHeaderMaps()
    maps.learn(
        {
            "tools": [
                {"name": "route", "inputSchema": SCHEMAS[0]},
                {"name": "plain", "inputSchema": SCHEMAS[-1]},
            ]
        }
    )
    assert maps.headers_for({"name": "route", "arguments": {"region": "eu"}}) == {"Mcp-Param-Region": "eu"}
    assert maps.headers_for({"name": "plain", "arguments": {"region": "eu"}}) == {}
    assert maps.headers_for({"name": "unknown"}) == {}
