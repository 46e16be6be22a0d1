"""stdio framing: lines in, one JSON-RPC message per flushed line out."""

from __future__ import annotations

import json
import os
import socket
import threading

import anyio
import pytest

from agentdock.proxy.errors import INVALID_REQUEST_CODE, PARSE_ERROR_CODE, SinkClosed
from agentdock.proxy.framing import LineSplitter, LineWriter, decode_line, encode_message, read_lines


def test_lines_split_across_chunks_are_reassembled_and_crlf_is_stripped() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b'{"a":') == []
    assert splitter.feed(b'1}\r\n{"b":2}\n{"c"') == [b'{"a":1}', b'{"b":2}']
    assert splitter.close() == [b'{"c"']


def test_a_malformed_line_becomes_a_parse_error_with_null_id() -> None:
    decoded = decode_line(b"{not json")
    assert decoded is not None and decoded.error is not None
    assert decoded.error["id"] is None
    assert decoded.error["error"]["code"] == PARSE_ERROR_CODE


def test_json_that_is_not_json_rpc_is_an_invalid_request_keeping_its_id() -> None:
    decoded = decode_line(b'{"jsonrpc": "2.0", "id": 5}')
    assert decoded is not None and decoded.error is not None
    assert decoded.error == {
        "jsonrpc": "2.0",
        "id": 5,
        "error": {"code": INVALID_REQUEST_CODE, "message": "Invalid Request: not a JSON-RPC 2.0 message"},
    }


def test_an_empty_batch_is_invalid_and_a_batch_is_kept_whole() -> None:
    empty = decode_line(b"[]")
    assert (
        empty is not None and empty.error is not None and empty.error["error"]["code"] == INVALID_REQUEST_CODE
    )
    batch = decode_line(b'[{"jsonrpc":"2.0","method":"ping","id":1}]')
    assert batch is not None and batch.batch == [{"jsonrpc": "2.0", "method": "ping", "id": 1}]


def test_blank_lines_are_ignored() -> None:
    assert decode_line(b"   \t") is None


def test_encoded_messages_are_one_line_even_with_newlines_in_strings() -> None:
    data = encode_message({"text": "a\nb\r\nc\u2028"})
    assert b"\n" not in data and b"\r" not in data
    assert json.loads(data) == {"text": "a\nb\r\nc\u2028"}


@pytest.mark.anyio
async def test_read_lines_yields_every_line_including_a_16_mib_one() -> None:
    big = b'{"x":"' + b"a" * (16 << 20) + b'"}'
    read_fd, write_fd = os.pipe()

    def writer() -> None:
        with os.fdopen(write_fd, "wb") as out:
            out.write(b'{"first":1}\n' + big + b"\n" + b'{"last":1}')

    async with anyio.create_task_group() as tg:
        tg.start_soon(anyio.to_thread.run_sync, writer)
        with os.fdopen(read_fd, "rb") as stream:
            lines = [line async for line in read_lines(stream)]
    assert lines == [b'{"first":1}', big, b'{"last":1}']


@pytest.mark.anyio
async def test_the_writer_emits_messages_in_order_one_per_line() -> None:
    read_fd, write_fd = os.pipe()
    big = "b" * (1 << 20)

    def drain_pipe() -> bytes:
        with os.fdopen(read_fd, "rb") as stream:
            return stream.read()

    received: list[bytes] = []

    async def collect() -> None:
        received.append(await anyio.to_thread.run_sync(drain_pipe))

    async with anyio.create_task_group() as tg:
        tg.start_soon(collect)  # the pipe must be read while a large message is written
        with os.fdopen(write_fd, "wb") as out:
            writer = LineWriter(out)
            for i in range(100):
                await writer.send({"jsonrpc": "2.0", "id": i, "result": {"big": big} if i == 50 else {}})
            assert await writer.drain(5)
            writer.close()
    lines = received[0].splitlines()
    assert [json.loads(line)["id"] for line in lines] == list(range(100))
    assert json.loads(lines[50])["result"]["big"] == big


@pytest.mark.anyio
async def test_a_broken_stdout_pipe_is_reported_and_later_sends_raise() -> None:
    read_fd, write_fd = os.pipe()
    os.close(read_fd)
    with os.fdopen(write_fd, "wb", buffering=0) as out:
        writer = LineWriter(out)
        await writer.send({"jsonrpc": "2.0", "id": 1, "result": {}})
        with anyio.fail_after(5):
            await writer.broken.wait()
        with pytest.raises(SinkClosed):
            await writer.send({"jsonrpc": "2.0", "id": 2, "result": {}})
        writer.close()


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["pipe", "socket", "file"])
async def test_read_lines_is_the_same_from_a_pipe_a_socket_and_a_regular_file(kind: str, tmp_path) -> None:
    """Pipes and sockets are read on the event loop, a regular file by the thread: same lines either way."""
    payload = b'{"a":1}\r\n' + b'{"b":"' + b"x" * 200_000 + b'"}\n' + b"\n" + b'{"c":3}'
    if kind == "file":
        path = tmp_path / "stdin"
        path.write_bytes(payload)
        with path.open("rb") as stream:
            lines = [line async for line in read_lines(stream)]
    else:
        if kind == "pipe":
            read_fd, write_fd = os.pipe()
        else:
            left, right = socket.socketpair()
            read_fd, write_fd = left.detach(), right.detach()

        def writer() -> None:
            with os.fdopen(write_fd, "wb") as out:
                out.write(payload)

        lines = []
        async with anyio.create_task_group() as tg:
            tg.start_soon(anyio.to_thread.run_sync, writer)
            with os.fdopen(read_fd, "rb") as stream:
                async for line in read_lines(stream):
                    lines.append(line)
                    # read on the event loop: no reader thread
                    assert "mcp-proxy-stdin" not in {t.name for t in threading.enumerate()}
    assert lines == [b'{"a":1}', b'{"b":"' + b"x" * 200_000 + b'"}', b"", b'{"c":3}']


@pytest.mark.anyio
async def test_a_small_message_is_on_the_pipe_when_send_returns() -> None:
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    with os.fdopen(write_fd, "wb", buffering=0) as out:
        writer = LineWriter(out)
        await writer.send({"jsonrpc": "2.0", "id": 1, "result": {}})
        assert os.read(read_fd, 1 << 16) == b'{"jsonrpc":"2.0","id":1,"result":{}}\n'
        assert writer.lines_written == 1
        writer.close()
    os.close(read_fd)


@pytest.mark.anyio
async def test_a_reader_that_stops_reading_never_blocks_the_event_loop() -> None:
    """Past a full pipe, sends still return at once (queued, in order) and all arrive once it is read."""
    read_fd, write_fd = os.pipe()
    filler = "f" * 1000
    with os.fdopen(write_fd, "wb", buffering=0) as out:
        writer = LineWriter(out)
        with anyio.fail_after(5):  # 300 KB into a 64 KB pipe nobody reads: blocking here would hang
            for i in range(300):
                await writer.send({"jsonrpc": "2.0", "id": i, "result": {"f": filler}})
        assert not await writer.drain(0.2)  # still queued: the pipe is full

        def read_all() -> bytes:
            with os.fdopen(read_fd, "rb") as stream:
                return stream.read()

        async with anyio.create_task_group() as tg:
            received: list[bytes] = []

            async def collect() -> None:
                received.append(await anyio.to_thread.run_sync(read_all))

            tg.start_soon(collect)
            assert await writer.drain(10)
            await writer.send({"jsonrpc": "2.0", "id": 300, "result": {}})
            assert await writer.drain(10)
            writer.close()
            out.close()
    ids = [json.loads(line)["id"] for line in received[0].splitlines()]
    assert ids == list(range(301))
