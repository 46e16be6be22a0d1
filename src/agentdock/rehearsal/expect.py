"""Judging a step's result: what came back in the ``tool_result`` against the step's `Expect`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agentdock.rehearsal.errors import TemplateError
from agentdock.rehearsal.scenario import Expect
from agentdock.rehearsal.template import render, resolve

__all__ = ["ToolResult", "check", "tool_result_from_block"]


@dataclass(frozen=True)
class ToolResult:
    text: str
    is_error: bool

    def json(self) -> Any:
        """The result's JSON (QMS tools answer with their structured data), or None when it is not JSON."""
        try:
            return json.loads(self.text)
        except ValueError:
            return None

    def saved(self) -> dict[str, Any]:
        """What ``save`` keeps for later templates: the JSON object, else ``{"text": ...}``."""
        value = self.json()
        return dict(value) if isinstance(value, dict) else {"text": self.text}


def tool_result_from_block(block: Mapping[str, Any]) -> ToolResult:
    """A ``tool_result`` content block (content as a string or as a list of text blocks)."""
    content = block.get("content")
    if isinstance(content, str):
        text = content
    elif isinstance(content, list):
        text = "\n".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, Mapping) and part.get("type") == "text"
        )
    else:
        text = ""
    return ToolResult(text=text, is_error=bool(block.get("is_error", False)))


def check(expect: Expect, result: ToolResult, context: Mapping[str, Any]) -> list[str]:
    """Every way ``result`` falls short of ``expect`` (empty: it holds)."""
    problems: list[str] = []
    if result.is_error != expect.error:
        said = result.text.strip().replace("\n", " ")[:300]
        problems.append(
            f"expected a refusal, got success: {said}"
            if expect.error
            else f"expected success, got an error: {said}"
        )
    for needle in expect.contains:
        try:
            wanted = str(render(needle, context))
        except TemplateError as exc:
            problems.append(str(exc))
            continue
        if wanted not in result.text:
            problems.append(f"result does not contain {wanted!r}")
    if expect.json:
        data = result.json()
        if not isinstance(data, dict):
            problems.append("result is not a JSON object, so its fields cannot be checked")
            return problems
        for path, value in expect.json.items():
            try:
                wanted_value = render(value, context)
                got = resolve(f"result.{path}", {"result": data})
            except TemplateError as exc:
                problems.append(str(exc))
                continue
            if got != wanted_value:
                problems.append(f"{path} is {got!r}, expected {wanted_value!r}")
    return problems
