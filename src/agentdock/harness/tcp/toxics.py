"""Byte-level faults for the TCP fault proxy ("toxics", after Toxiproxy).

A toxic works on one direction of one connection — ``upstream`` (client to
server) or ``downstream`` (server to client) — through one method,
:meth:`Toxic.process`: given a chunk (``b""`` marks the end of the stream) it
yields the chunks to pass on, may sleep (through the link's injected
``sleep``), and may end the connection by raising :class:`ResetPeer` (TCP RST)
or :class:`ClosePeer` (FIN).  Whether a toxic affects a connection is drawn
once per connection with probability ``toxicity`` from a seeded source;
``max_connections`` limits it to the first N connections it hits.

JSON form (Toxiproxy's)::

    {"type": "latency", "name": "lag", "stream": "downstream", "toxicity": 1.0,
     "attributes": {"latency_ms": 200, "jitter_ms": 50}}
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Literal, TypeVar

from agentdock.harness.errors import ToxicError
from agentdock.harness.settings import SettingsError, build, dump

__all__ = [
    "TOXICS",
    "ClosePeer",
    "Link",
    "ResetPeer",
    "Stream",
    "Toxic",
    "parse_toxic_spec",
    "toxic_from_dict",
]

Stream = Literal["upstream", "downstream"]
_COMMON = frozenset({"name", "stream", "toxicity", "max_connections"})


class ResetPeer(Exception):
    """End the connection with a TCP reset on both sides."""


class ClosePeer(Exception):
    """End the connection with an orderly close on both sides."""


@dataclass
class Link:
    """One direction of one proxied connection, as a toxic sees it."""

    connection: int
    stream: Stream
    rng: random.Random
    sleep: Callable[[float], Awaitable[None]]
    #: Per-toxic state for this link, keyed by toxic name (byte counters and the like).
    state: dict[str, dict[str, Any]] = field(default_factory=dict)

    def of(self, toxic: Toxic) -> dict[str, Any]:
        return self.state.setdefault(toxic.name, {})


TOXICS: dict[str, type[Toxic]] = {}
T = TypeVar("T", bound="type[Toxic]")


def _register(cls: T) -> T:
    TOXICS[cls.type] = cls
    return cls


@dataclass(frozen=True, kw_only=True)
class Toxic(ABC):
    type: ClassVar[str]
    summary: ClassVar[str] = ""

    name: str = ""
    stream: Stream = "downstream"
    #: Probability that a given connection is affected (drawn once per connection).
    toxicity: float = 1.0
    #: Affect at most the first N connections this toxic is drawn for (None: all).
    max_connections: int | None = None

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", f"{self.type}_{self.stream}")
        if not 0.0 <= self.toxicity <= 1.0:
            raise ValueError(f"toxicity must be within [0, 1], not {self.toxicity}")
        if self.max_connections is not None and self.max_connections < 1:
            raise ValueError("max_connections must be >= 1")
        for key, value in self.attributes().items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
                raise ValueError(f"{key} must be >= 0, not {value}")

    @abstractmethod
    def process(self, chunk: bytes, link: Link) -> AsyncIterator[bytes]:
        """Yield what to pass on for ``chunk`` (``b""``: the stream ended; yield nothing for it)."""

    def attributes(self) -> dict[str, Any]:
        return dump(self, skip=_COMMON)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": self.toxicity,
            "max_connections": self.max_connections,
            "attributes": self.attributes(),
        }

    def renamed(self, name: str) -> Toxic:
        return replace(self, name=name)


@_register
@dataclass(frozen=True, kw_only=True)
class Latency(Toxic):
    type = "latency"
    summary = "delay every chunk by latency_ms ± jitter_ms"
    latency_ms: int = 100
    jitter_ms: int = 0

    async def process(self, chunk: bytes, link: Link) -> AsyncIterator[bytes]:
        if chunk:
            jitter = link.rng.uniform(-self.jitter_ms, self.jitter_ms) if self.jitter_ms else 0.0
            await link.sleep(max(0.0, self.latency_ms + jitter) / 1000)
            yield chunk


@_register
@dataclass(frozen=True, kw_only=True)
class Bandwidth(Toxic):
    type = "bandwidth"
    summary = "limit throughput to rate_kib_s KiB per second"
    rate_kib_s: float = 64.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.rate_kib_s <= 0:
            raise ValueError("rate_kib_s must be > 0")

    async def process(self, chunk: bytes, link: Link) -> AsyncIterator[bytes]:
        rate = self.rate_kib_s * 1024  # bytes per second
        step = max(1, int(rate / 10))  # pace in tenths of a second
        for i in range(0, len(chunk), step):
            piece = chunk[i : i + step]
            await link.sleep(len(piece) / rate)
            yield piece


@_register
@dataclass(frozen=True, kw_only=True)
class Slicer(Toxic):
    type = "slicer"
    summary = (
        "cut chunks into small random slices (average_size_bytes ± size_variation_bytes), delay_us apart"
    )
    average_size_bytes: int = 8
    size_variation_bytes: int = 4
    delay_us: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.average_size_bytes < 1 or self.size_variation_bytes >= self.average_size_bytes:
            raise ValueError("need average_size_bytes >= 1 and size_variation_bytes < average_size_bytes")

    async def process(self, chunk: bytes, link: Link) -> AsyncIterator[bytes]:
        i = 0
        while i < len(chunk):
            var = self.size_variation_bytes
            size = self.average_size_bytes + (link.rng.randint(-var, var) if var else 0)
            if i and self.delay_us:
                await link.sleep(self.delay_us / 1_000_000)
            yield chunk[i : i + size]
            i += size


@_register
@dataclass(frozen=True, kw_only=True)
class ResetPeerToxic(Toxic):
    type = "reset_peer"
    summary = "pass after_bytes bytes, then reset the connection (RST), after an optional timeout_ms"
    after_bytes: int = 0
    timeout_ms: int = 0

    async def process(self, chunk: bytes, link: Link) -> AsyncIterator[bytes]:
        state = link.of(self)
        seen = state.get("bytes", 0)
        if not chunk:
            return
        room = self.after_bytes - seen
        if room >= len(chunk) and room > 0:
            state["bytes"] = seen + len(chunk)
            yield chunk
            if room > len(chunk):
                return
        elif room > 0:
            state["bytes"] = self.after_bytes
            yield chunk[:room]
        if self.timeout_ms:
            await link.sleep(self.timeout_ms / 1000)
        raise ResetPeer(f"{self.name}: reset after {self.after_bytes} bytes {link.stream}")


@_register
@dataclass(frozen=True, kw_only=True)
class Timeout(Toxic):
    type = "timeout"
    summary = "blackhole: swallow all data; close after timeout_ms (0: never — the peer just hangs)"
    timeout_ms: int = 0

    async def process(self, chunk: bytes, link: Link) -> AsyncIterator[bytes]:
        state = link.of(self)
        if state.get("fired"):
            return
        state["fired"] = True
        if self.timeout_ms:
            await link.sleep(self.timeout_ms / 1000)
            raise ClosePeer(f"{self.name}: blackholed for {self.timeout_ms} ms, then closed")
        await link.sleep(float("inf"))
        yield b""  # pragma: no cover - unreachable; makes this an async generator


@_register
@dataclass(frozen=True, kw_only=True)
class SlowClose(Toxic):
    type = "slow_close"
    summary = "delay the close (FIN) by delay_ms after the stream ends"
    delay_ms: int = 1000

    async def process(self, chunk: bytes, link: Link) -> AsyncIterator[bytes]:
        if chunk:
            yield chunk
        else:
            await link.sleep(self.delay_ms / 1000)


@_register
@dataclass(frozen=True, kw_only=True)
class LimitData(Toxic):
    type = "limit_data"
    summary = "pass at most limit_bytes bytes, then close the connection"
    limit_bytes: int = 0

    async def process(self, chunk: bytes, link: Link) -> AsyncIterator[bytes]:
        state = link.of(self)
        seen = state.get("bytes", 0)
        room = self.limit_bytes - seen
        if chunk and room > 0:
            piece = chunk[:room]
            state["bytes"] = seen + len(piece)
            yield piece
        if chunk and state.get("bytes", 0) >= self.limit_bytes:
            raise ClosePeer(f"{self.name}: data limit of {self.limit_bytes} bytes reached")


def toxic_from_dict(data: Mapping[str, Any]) -> Toxic:
    """Build a toxic from its JSON form (Toxiproxy's: type, name, stream, toxicity, attributes)."""
    if not isinstance(data, Mapping) or "type" not in data:
        raise ToxicError(f"a toxic needs a 'type' (one of {sorted(TOXICS)}), got {data!r}")
    cls = TOXICS.get(data["type"])
    if cls is None:
        raise ToxicError(f"unknown toxic type {data['type']!r}; known: {', '.join(sorted(TOXICS))}")
    unknown = sorted(set(data) - {"type", "attributes", *_COMMON})
    if unknown:
        raise ToxicError(f"unknown toxic key(s) {unknown}; attributes go under 'attributes'")
    attributes = data.get("attributes") or {}
    if not isinstance(attributes, Mapping):
        raise ToxicError("attributes must be an object")
    clash = sorted(set(attributes) & _COMMON)
    if clash:
        raise ToxicError(f"{clash} are not attributes; put them at the top level")
    settings = {k: v for k, v in data.items() if k in _COMMON and v is not None}
    try:
        return build(cls, {**settings, **attributes}, where=f"{data['type']}.")
    except SettingsError as exc:
        raise ToxicError(f"toxic {data['type']!r}: {exc}") from exc


def _scalar(text: str) -> Any:
    lowered = text.lower()
    if lowered in {"true", "false"}:
        return lowered == "true"
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


def parse_toxic_spec(spec: str) -> Toxic:
    """Parse a CLI toxic: ``TYPE[:key=value,...]`` (``stream``, ``toxicity``, ``name`` included) or JSON."""
    import json

    spec = spec.strip()
    if spec.startswith("{"):
        try:
            return toxic_from_dict(json.loads(spec))
        except ValueError as exc:
            raise ToxicError(f"toxic spec is not valid JSON: {exc}") from exc
    kind, _, rest = spec.partition(":")
    data: dict[str, Any] = {"type": kind.strip()}
    attributes: dict[str, Any] = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = item.partition("=")
        if not eq:
            raise ToxicError(f"toxic setting {item!r} must be key=value (in {spec!r})")
        target = data if key.strip() in _COMMON else attributes
        target[key.strip()] = value.strip() if key.strip() in {"name", "stream"} else _scalar(value.strip())
    data["attributes"] = attributes
    return toxic_from_dict(data)
