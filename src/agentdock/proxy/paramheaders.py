"""``Mcp-Param-*`` headers for 2026-07-28 ``tools/call`` requests.

A tool's ``inputSchema`` may mark properties with ``x-mcp-header: <token>``;
a client then mirrors those arguments into ``Mcp-Param-<token>`` headers so
intermediaries can route on them, and the server rejects a call whose headers
and body disagree. Over stdio the client has no headers to send, so the proxy
learns each tool's annotations from the ``tools/list`` results it forwards and
adds the headers itself.

Only annotations on a pure ``properties`` chain from the root, naming an RFC
9110 token, on a string/integer/boolean property, unique case-insensitively,
count; a schema with any other ``x-mcp-header`` is treated as invalid and gets
no headers (as a conforming client drops such a tool's headers).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["PARAM_HEADER_PREFIX", "ToolHeaderMaps", "header_map", "param_headers"]

PARAM_HEADER_PREFIX = "Mcp-Param-"
_KEY = "x-mcp-header"
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_TYPES = frozenset({"string", "integer", "boolean"})
_DATA_KEYWORDS = frozenset({"default", "examples", "const", "enum"})
_HEADER_SAFE = re.compile(r"^[\x20-\x7E]*$")
_B64_SENTINEL = re.compile(r"^=\?base64\?.*\?=$")

HeaderMap = dict[tuple[str, ...], str]


def _chain(schema: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    if not isinstance(schema, dict):
        return
    properties = schema.get("properties")
    if isinstance(properties, dict):
        for name, sub in properties.items():
            if isinstance(sub, dict):
                yield (*path, name), sub
                yield from _chain(sub, (*path, name))


def _count_annotations(node: Any) -> int:
    if isinstance(node, dict):
        own = 1 if _KEY in node else 0
        return own + sum(_count_annotations(v) for k, v in node.items() if k not in _DATA_KEYWORDS)
    if isinstance(node, list):
        return sum(_count_annotations(v) for v in node)
    return 0


def header_map(input_schema: Any) -> HeaderMap | None:
    """Property path -> token for a schema's valid annotations; ``None`` when any annotation is invalid."""
    found: HeaderMap = {}
    seen: set[str] = set()
    for path, schema in _chain(input_schema, ()):
        if _KEY not in schema:
            continue
        token = schema[_KEY]
        if not isinstance(token, str) or not _TOKEN.fullmatch(token) or schema.get("type") not in _TYPES:
            return None
        if token.lower() in seen:
            return None
        seen.add(token.lower())
        found[path] = token
    if _count_annotations(input_schema) != len(found):
        return None  # an annotation off the properties chain (or on the root)
    return found


def _encode(value: str) -> str:
    if _HEADER_SAFE.fullmatch(value) and value == value.strip() and not _B64_SENTINEL.fullmatch(value):
        return value
    return f"=?base64?{base64.b64encode(value.encode('utf-8')).decode('ascii')}?="


def _render(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        try:
            return str(value)
        except ValueError:  # an int beyond the int-to-str digit limit
            return None
    return None


def param_headers(mapping: Mapping[tuple[str, ...], str], arguments: Any) -> dict[str, str]:
    """The ``Mcp-Param-*`` headers for ``arguments`` under ``mapping``."""
    headers: dict[str, str] = {}
    for path, token in mapping.items():
        node = arguments
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        rendered = _render(node) if node is not None else None
        if rendered is not None:
            headers[f"{PARAM_HEADER_PREFIX}{token}"] = _encode(rendered)
    return headers


class ToolHeaderMaps:
    """What the proxy learned from ``tools/list`` results: tool name -> header map."""

    def __init__(self) -> None:
        self._maps: dict[str, HeaderMap] = {}

    def learn(self, result: Any) -> None:
        tools = result.get("tools") if isinstance(result, dict) else None
        for tool in tools if isinstance(tools, list) else []:
            if isinstance(tool, dict) and isinstance(tool.get("name"), str):
                mapping = header_map(tool.get("inputSchema"))
                if mapping:
                    self._maps[tool["name"]] = mapping
                else:
                    self._maps.pop(tool["name"], None)

    def headers_for(self, params: Any) -> dict[str, str]:
        if not isinstance(params, dict) or not isinstance(params.get("name"), str):
            return {}
        mapping = self._maps.get(params["name"])
        return param_headers(mapping, params.get("arguments") or {}) if mapping else {}
