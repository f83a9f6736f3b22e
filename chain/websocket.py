"""A minimal WebSocket client (RFC 6455) for the engine's ``/websocket`` endpoint: text frames
out (masked, as a client must), text frames in, pings answered, fragments joined.

The engine speaks JSON-RPC over it; nothing here knows that. A frame larger than MAX_MESSAGE
is refused rather than buffered (a node we talk to is as untrusted as any peer).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import socket
import struct
from urllib.parse import urlsplit

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_MESSAGE = 16 << 20
"""The largest message accepted (a block's events fit in far less)."""
TEXT, BINARY, CONTINUATION, CLOSE, PING, PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA


class WebSocketError(Exception):
    """The connection failed, was closed, or broke the protocol."""


class ConnectionLost(WebSocketError):
    """The server could not be reached, closed the connection or went away (a node that
    restarts): worth connecting again, unlike a server that breaks the protocol."""


def accept_key(key: str) -> str:
    """The Sec-WebSocket-Accept a server must answer to ``key``."""
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def ws_url(node: str) -> str:
    """The engine's websocket URL for its RPC URL: http://h:p -> ws://h:p/websocket."""
    parts = urlsplit(node if "://" in node else f"http://{node}")
    scheme = "wss" if parts.scheme in ("https", "wss") else "ws"
    return f"{scheme}://{parts.netloc}/websocket"


class WebSocket:
    """One client connection; ``recv`` returns the next text message."""

    def __init__(self, url: str, timeout: float | None = 10.0) -> None:
        parts = urlsplit(url)
        if parts.scheme != "ws" or not parts.hostname:
            raise WebSocketError(f"{url}: only ws://host:port/path is supported")
        port = parts.port or 80
        try:
            self.sock = socket.create_connection((parts.hostname, port), timeout=timeout)
        except OSError as exc:
            raise ConnectionLost(f"cannot reach {url}: {exc}") from None
        self.buffer = b""
        try:
            self._handshake(parts.netloc, parts.path or "/")
        except WebSocketError:
            self.sock.close()
            raise

    def _handshake(self, host: str, path: str) -> None:
        """The HTTP upgrade; raises WebSocketError unless the server switches protocols."""
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        self._send_all(request.encode())
        head = self._read_until(b"\r\n\r\n", 16 << 10)
        lines = head.decode("latin-1").split("\r\n")
        if len(lines[0].split()) < 2 or lines[0].split()[1] != "101":
            raise WebSocketError(f"the server refused the upgrade: {lines[0][:200]}")
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines[1:])
        }
        if headers.get("sec-websocket-accept") != accept_key(key):
            raise WebSocketError("the server's Sec-WebSocket-Accept does not match")

    def send(self, text: str) -> None:
        """Send one text message (a single masked frame)."""
        self._send_frame(TEXT, text.encode())

    def recv(self) -> str:
        """The next text message; answers pings on the way. Raises WebSocketError when the
        server closes, or sends a binary, oversize or malformed message."""
        parts: list[bytes] = []
        size = 0
        while True:
            fin, opcode, payload = self._read_frame()
            if opcode == PING:
                self._send_frame(PONG, payload)
            elif opcode == CLOSE:
                raise ConnectionLost("the server closed the connection")
            elif opcode in (TEXT, CONTINUATION):
                size += len(payload)
                if size > MAX_MESSAGE:
                    raise WebSocketError(f"a message larger than {MAX_MESSAGE} bytes")
                parts.append(payload)
                if fin:
                    try:
                        return b"".join(parts).decode()
                    except UnicodeDecodeError:
                        raise WebSocketError("a text message that is not UTF-8") from None
            elif opcode != PONG:
                raise WebSocketError(f"unexpected frame opcode {opcode}")

    def close(self) -> None:
        """Say goodbye and close the socket (errors ignored: the peer may be gone)."""
        with contextlib.suppress(OSError, WebSocketError):
            self._send_frame(CLOSE, struct.pack("!H", 1000))
        self.sock.close()

    # --- frames --------------------------------------------------------------------------

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        length = len(payload)
        if length < 126:
            header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
        elif length < 1 << 16:
            header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self._send_all(header + mask + masked)

    def _read_frame(self) -> tuple[bool, int, bytes]:
        first, second = self._read(2)
        fin, opcode, length = bool(first & 0x80), first & 0x0F, second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._read(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._read(8))
        if length > MAX_MESSAGE:
            raise WebSocketError(f"a frame larger than {MAX_MESSAGE} bytes")
        mask = self._read(4) if second & 0x80 else b""
        payload = self._read(length)
        if mask:
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        return fin, opcode, payload

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            self._fill()
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def _read_until(self, marker: bytes, limit: int) -> bytes:
        while marker not in self.buffer:
            if len(self.buffer) > limit:
                raise WebSocketError("the server's handshake answer is too long")
            self._fill()
        head, _, self.buffer = self.buffer.partition(marker)
        return head

    def _fill(self) -> None:
        try:
            chunk = self.sock.recv(65536)
        except OSError as exc:
            raise ConnectionLost(f"the connection failed: {exc}") from None
        if not chunk:
            raise ConnectionLost("the server closed the connection")
        self.buffer += chunk

    def _send_all(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise ConnectionLost(f"the connection failed: {exc}") from None
