"""Every toxic of the TCP fault proxy, driven chunk by chunk without a socket."""

from __future__ import annotations

import random
from typing import Any

import pytest

from agentdock.harness.errors import ToxicError
from agentdock.harness.tcp.toxics import (
    TOXICS,
    ClosePeer,
    Link,
    ResetPeer,
    Toxic,
    parse_toxic_spec,
    toxic_from_dict,
)

pytestmark = pytest.mark.anyio


class Wire:
    """A link whose sleeps are recorded, not slept."""

    def __init__(self, seed: int = 0) -> None:
        self.sleeps: list[float] = []
        self.link = Link(1, "downstream", random.Random(seed), self._sleep)

    async def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    async def feed(self, toxic: Toxic, *chunks: bytes, eof: bool = True) -> list[bytes]:
        out: list[bytes] = []
        for chunk in [*chunks, b""] if eof else list(chunks):
            async for piece in toxic.process(chunk, self.link):
                out.append(piece)
        return out


def make(spec: str) -> Toxic:
    return parse_toxic_spec(spec)


def test_seven_toxic_types_are_registered() -> None:
    assert set(TOXICS) == {
        "latency",
        "bandwidth",
        "slicer",
        "reset_peer",
        "timeout",
        "slow_close",
        "limit_data",
    }


async def test_latency_delays_each_chunk_and_passes_it_unchanged() -> None:
    wire = Wire()
    assert await wire.feed(make("latency:latency_ms=200"), b"ab", b"cd") == [b"ab", b"cd"]
    assert wire.sleeps == [0.2, 0.2]


async def test_latency_jitter_stays_in_bounds_and_follows_the_seed() -> None:
    toxic = make("latency:latency_ms=100,jitter_ms=50")
    a, b, c = Wire(1), Wire(1), Wire(2)
    for wire in (a, b, c):
        await wire.feed(toxic, *[b"x"] * 20)
    assert a.sleeps == b.sleeps != c.sleeps
    assert all(0.05 <= s <= 0.15 for s in a.sleeps)


async def test_bandwidth_paces_bytes_at_the_rate() -> None:
    wire = Wire()
    out = await wire.feed(make("bandwidth:rate_kib_s=1"), b"x" * 2048)
    assert b"".join(out) == b"x" * 2048
    assert sum(wire.sleeps) == pytest.approx(2.0)
    assert max(len(p) for p in out) <= 103


async def test_slicer_cuts_chunks_into_small_slices_and_keeps_every_byte() -> None:
    wire = Wire(3)
    data = bytes(range(256)) * 4
    out = await wire.feed(make("slicer:average_size_bytes=8,size_variation_bytes=4,delay_us=100"), data)
    assert b"".join(out) == data
    assert all(4 <= len(p) <= 12 for p in out[:-1])
    assert wire.sleeps == [0.0001] * (len(out) - 1)


async def test_reset_peer_passes_after_bytes_then_resets() -> None:
    wire = Wire()
    toxic = make("reset_peer:after_bytes=5")
    with pytest.raises(ResetPeer):
        await wire.feed(toxic, b"abc", b"defg")
    out: list[bytes] = []
    fresh = Wire()
    with pytest.raises(ResetPeer):
        for chunk in (b"abc", b"defg"):
            async for piece in toxic.process(chunk, fresh.link):
                out.append(piece)
    assert out == [b"abc", b"de"]


async def test_reset_peer_at_zero_bytes_resets_on_the_first_data_after_its_timeout() -> None:
    wire = Wire()
    with pytest.raises(ResetPeer):
        await wire.feed(make("reset_peer:after_bytes=0,timeout_ms=300"), b"x")
    assert wire.sleeps == [0.3]


async def test_reset_peer_leaves_an_ended_stream_alone_below_its_limit() -> None:
    assert await Wire().feed(make("reset_peer:after_bytes=100"), b"abc") == [b"abc"]


async def test_timeout_swallows_data_then_closes_after_timeout_ms() -> None:
    wire = Wire()
    with pytest.raises(ClosePeer):
        await wire.feed(make("timeout:timeout_ms=1500"), b"hello")
    assert wire.sleeps == [1.5]


async def test_timeout_zero_blackholes_forever() -> None:
    wire = Wire()

    class Forever(Exception):
        pass

    async def never(seconds: float) -> None:
        wire.sleeps.append(seconds)
        raise Forever  # stands in for a sleep that never returns

    wire.link.sleep = never
    with pytest.raises(Forever):
        await wire.feed(make("timeout"), b"hello")
    assert wire.sleeps == [float("inf")]


async def test_slow_close_passes_data_and_delays_the_end_of_stream() -> None:
    wire = Wire()
    assert await wire.feed(make("slow_close:delay_ms=700"), b"a", b"b") == [b"a", b"b"]
    assert wire.sleeps == [0.7]


async def test_limit_data_passes_at_most_limit_bytes_then_closes() -> None:
    wire = Wire()
    out: list[bytes] = []
    with pytest.raises(ClosePeer):
        for chunk in (b"abcd", b"efgh"):
            async for piece in make("limit_data:limit_bytes=6").process(chunk, wire.link):
                out.append(piece)
    assert out == [b"abcd", b"ef"]


def test_a_cli_spec_sets_common_fields_and_attributes() -> None:
    toxic = make("latency:latency_ms=5,stream=upstream,toxicity=0.25,name=lag,max_connections=2")
    assert toxic.to_dict() == {
        "name": "lag",
        "type": "latency",
        "stream": "upstream",
        "toxicity": 0.25,
        "max_connections": 2,
        "attributes": {"latency_ms": 5, "jitter_ms": 0},
    }
    assert toxic_from_dict(toxic.to_dict()) == toxic
    assert (
        make('{"type": "timeout", "attributes": {"timeout_ms": 9}}').to_dict()["name"] == "timeout_downstream"
    )


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("nope", "unknown toxic type 'nope'"),
        ("latency:latency_ms", "must be key=value"),
        ("latency:latency_ms=fast", "latency_ms must be an integer"),
        ("latency:stream=sideways", "stream must be one of"),
        ("latency:toxicity=2", "toxicity must be within"),
        ("latency:latency_ms=-5", "latency_ms must be >= 0"),
        ("slicer:average_size_bytes=4,size_variation_bytes=4", "size_variation_bytes < average_size_bytes"),
        ("bandwidth:rate_kib_s=0", "rate_kib_s must be > 0"),
        ('{"type": "latency", "attributes": {"stream": "upstream"}}', "not attributes"),
        ('{"type": "latency", "colour": 1}', "unknown toxic key"),
        ("{not json", "not valid JSON"),
    ],
)
def test_a_malformed_toxic_is_refused_with_an_error_naming_the_mistake(spec: str, needle: str) -> None:
    with pytest.raises(ToxicError) as info:
        make(spec)
    assert needle in str(info.value)


def test_every_toxic_type_builds_with_defaults_and_has_a_summary() -> None:
    for name, cls in TOXICS.items():
        toxic: Any = cls()
        assert toxic.name == f"{name}_downstream" and cls.summary
