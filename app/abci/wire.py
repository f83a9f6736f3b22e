"""ABCI framing: each protobuf message is preceded by its length as an unsigned varint.

CometBFT v0.38 writes lengths with Go's ``binary.PutUvarint`` (not the zigzag varints of
Tendermint 0.34 that py-abci speaks).
"""

from __future__ import annotations

MAX_MESSAGE_BYTES = 256 * 1024 * 1024


class FramingError(ValueError):
    """The peer sent bytes that are not a length-delimited message."""


def encode_uvarint(value: int) -> bytes:
    """Unsigned LEB128 varint of a non-negative integer."""
    if value < 0:
        raise ValueError("uvarint of a negative number")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def frame(message: bytes) -> bytes:
    """A serialized message with its length prefix."""
    return encode_uvarint(len(message)) + message


def split_frames(buffer: bytearray) -> list[bytes]:
    """Remove and return every complete message at the front of ``buffer``.

    Raises FramingError for a length over MAX_MESSAGE_BYTES or a varint over 10 bytes.
    """
    messages: list[bytes] = []
    while True:
        parsed = _read_uvarint(buffer)
        if parsed is None:
            return messages
        length, header = parsed
        if length > MAX_MESSAGE_BYTES:
            raise FramingError(f"message of {length} bytes exceeds {MAX_MESSAGE_BYTES}")
        if len(buffer) < header + length:
            return messages
        messages.append(bytes(buffer[header : header + length]))
        del buffer[: header + length]


def _read_uvarint(buffer: bytearray) -> tuple[int, int] | None:
    """(value, bytes used) of the varint at the front of ``buffer``, None if incomplete."""
    value = 0
    for i, byte in enumerate(buffer[:10]):
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return value, i + 1
    if len(buffer) >= 10:
        raise FramingError("length prefix longer than 10 bytes")
    return None
