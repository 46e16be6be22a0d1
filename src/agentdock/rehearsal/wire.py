"""The Messages API wire format, built from the official ``anthropic`` SDK's types.

A reply is a list of content blocks (text, tool_use) and a stop reason.
`stream_events` turns it into the server-sent events Claude Code reads —
``message_start``, per block ``content_block_start``/``content_block_delta``
(``text_delta`` or ``input_json_delta``)/``content_block_stop``,
``message_delta`` (stop reason, usage), ``message_stop`` — each one an
instance of the SDK's own pydantic model, so a field the real API would not
send cannot be sent.  `message` is the non-streaming form (an SDK ``Message``).
``ping`` (which the SDK's union leaves out; its stream reader skips it) is
the only event written by hand.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from anthropic.types import (
    InputJSONDelta,
    Message,
    MessageDeltaUsage,
    RawContentBlockDeltaEvent,
    RawContentBlockStartEvent,
    RawContentBlockStopEvent,
    RawMessageDeltaEvent,
    RawMessageStartEvent,
    RawMessageStopEvent,
    TextBlock,
    TextDelta,
    ToolUseBlock,
    Usage,
)
from anthropic.types.raw_message_delta_event import Delta
from pydantic import BaseModel

__all__ = [
    "PING",
    "Reply",
    "StopReason",
    "ToolCall",
    "api_error",
    "message",
    "sse",
    "stream_events",
]

StopReason = Literal["end_turn", "tool_use"]
#: The keep-alive event the API sends while a response is being prepared.
PING: dict[str, str] = {"type": "ping"}
_CHUNK = 40  # characters per text/JSON delta: several deltas per block, as the real API sends


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    input: dict[str, Any]


@dataclass(frozen=True)
class Reply:
    """One assistant turn: optional text, then optional tool calls."""

    id: str
    model: str
    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    input_tokens: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def stop_reason(self) -> StopReason:
        return "tool_use" if self.tool_calls else "end_turn"

    def output_tokens(self) -> int:
        size = len(self.text) + sum(len(json.dumps(c.input)) for c in self.tool_calls)
        return max(1, size // 4)


def _blocks(reply: Reply) -> list[TextBlock | ToolUseBlock]:
    blocks: list[TextBlock | ToolUseBlock] = []
    if reply.text or not reply.tool_calls:
        blocks.append(TextBlock(type="text", text=reply.text))
    blocks += [ToolUseBlock(type="tool_use", id=c.id, name=c.name, input=c.input) for c in reply.tool_calls]
    return blocks


def message(reply: Reply) -> Message:
    """The non-streaming response body."""
    return Message(
        id=reply.id,
        type="message",
        role="assistant",
        model=reply.model,
        content=list(_blocks(reply)),
        stop_reason=reply.stop_reason,
        stop_sequence=None,
        usage=Usage(input_tokens=reply.input_tokens, output_tokens=reply.output_tokens()),
    )


def _chunks(text: str) -> list[str]:
    return [text[i : i + _CHUNK] for i in range(0, len(text), _CHUNK)] or [""]


def stream_events(reply: Reply) -> Iterator[BaseModel]:
    """The streaming events of ``reply``, in order, as SDK models (ping excluded; see `sse`)."""
    start = message(reply).model_copy(
        update={
            "content": [],
            "stop_reason": None,
            "usage": Usage(input_tokens=reply.input_tokens, output_tokens=1),
        }
    )
    yield RawMessageStartEvent(type="message_start", message=start)
    for index, block in enumerate(_blocks(reply)):
        if isinstance(block, TextBlock):
            yield RawContentBlockStartEvent(
                type="content_block_start", index=index, content_block=TextBlock(type="text", text="")
            )
            for piece in _chunks(block.text):
                yield RawContentBlockDeltaEvent(
                    type="content_block_delta", index=index, delta=TextDelta(type="text_delta", text=piece)
                )
        else:
            yield RawContentBlockStartEvent(
                type="content_block_start",
                index=index,
                content_block=ToolUseBlock(type="tool_use", id=block.id, name=block.name, input={}),
            )
            for piece in _chunks(json.dumps(block.input)):
                yield RawContentBlockDeltaEvent(
                    type="content_block_delta",
                    index=index,
                    delta=InputJSONDelta(type="input_json_delta", partial_json=piece),
                )
        yield RawContentBlockStopEvent(type="content_block_stop", index=index)
    yield RawMessageDeltaEvent(
        type="message_delta",
        delta=Delta(stop_reason=reply.stop_reason, stop_sequence=None),
        usage=MessageDeltaUsage(output_tokens=reply.output_tokens()),
    )
    yield RawMessageStopEvent(type="message_stop")


def sse(event: BaseModel | dict[str, Any]) -> bytes:
    """One server-sent event: ``event: <type>`` and the JSON the API would send."""
    data = event.model_dump(mode="json", exclude_unset=True) if isinstance(event, BaseModel) else event
    return f"event: {data['type']}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def api_error(kind: str, text: str) -> dict[str, Any]:
    """An error body in the API's shape (``{"type": "error", "error": {...}}``)."""
    return {"type": "error", "error": {"type": kind, "message": text}}
