"""ABCI framing: unsigned varint length prefixes, as Go's binary.PutUvarint writes them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.abci.wire import (
    MAX_MESSAGE_BYTES,
    FramingError,
    _read_uvarint,
    encode_uvarint,
    frame,
    split_frames,
)
from app.pb.tendermint.abci import types_pb2 as abci

U64 = st.integers(min_value=0, max_value=2**64 - 1)


@given(U64)
def test_uvarint_round_trip(value: int) -> None:
    encoded = encode_uvarint(value)
    assert 1 <= len(encoded) <= 10
    assert _read_uvarint(bytearray(encoded + b"tail")) == (value, len(encoded))


@given(st.integers(min_value=1, max_value=2**64 - 1))
def test_uvarint_is_protobufs_varint(value: int) -> None:
    # block_version is uint64 field 2: one tag byte (0x10), then the varint.
    serialized = abci.RequestInfo(block_version=value).SerializeToString()
    assert serialized[:1] == b"\x10"
    assert encode_uvarint(value) == serialized[1:]


@pytest.mark.parametrize(
    ("value", "encoded"),
    [(0, b"\x00"), (1, b"\x01"), (127, b"\x7f"), (128, b"\x80\x01"), (300, b"\xac\x02")],
)
def test_uvarint_known_values(value: int, encoded: bytes) -> None:
    assert encode_uvarint(value) == encoded


def test_negative_uvarint_refused() -> None:
    with pytest.raises(ValueError):
        encode_uvarint(-1)


@given(st.lists(st.binary(max_size=300), max_size=8), st.integers(min_value=1, max_value=50))
def test_frames_split_back_in_any_chunking(messages: list[bytes], chunk: int) -> None:
    stream = b"".join(frame(m) for m in messages)
    buffer, out = bytearray(), []
    for i in range(0, len(stream), chunk):
        buffer.extend(stream[i : i + chunk])
        out.extend(split_frames(buffer))
    assert out == messages
    assert buffer == bytearray()


def test_incomplete_frame_stays_in_the_buffer() -> None:
    buffer = bytearray(frame(b"hello") + frame(b"world")[:3])
    assert split_frames(buffer) == [b"hello"]
    assert buffer == bytearray(frame(b"world")[:3])
    assert split_frames(bytearray(b"\x80" * 9)) == []


@pytest.mark.parametrize(
    "prefix", [b"\x80" * 10, b"\x80" * 10 + b"\x01", b"\xff" * 11], ids=["ten", "eleven", "ff"]
)
def test_overlong_varint_raises(prefix: bytes) -> None:
    with pytest.raises(FramingError):
        split_frames(bytearray(prefix + b"payload"))


def test_oversized_message_raises() -> None:
    with pytest.raises(FramingError):
        split_frames(bytearray(encode_uvarint(MAX_MESSAGE_BYTES + 1)))
