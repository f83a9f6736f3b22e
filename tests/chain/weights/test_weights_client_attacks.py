"""A puller against providers that lie about or mangle their answers: any member can announce a
store for any digest, so no provider may crash a pull, spoil what the next provider sends, hang
it, or send it elsewhere."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from chain.keys import Key, new_private_key
from chain.weights import client
from chain.weights.client import TransferError, download

DATA = bytes(range(256)) * 64
HEX = hashlib.sha256(DATA).hexdigest()
PATH = f"/v1/blobs/sha256:{HEX}"
KEY = Key("puller", new_private_key())


class Provider(BaseHTTPRequestHandler):
    """The first path segment says how the provider misbehaves; /good/ serves honestly."""

    protocol_version = "HTTP/1.1"
    hits: list[str] = []
    release = threading.Event()

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_GET(self) -> None:
        kind = self.path.split("/")[1]
        self.hits.append(f"{kind} {self.headers.get('Range', '')}".strip())
        first = _range_start(self.headers.get("Range"))
        if kind == "truncate":  # says all of it, sends a wrong half, hangs up
            self._head(200, len(DATA))
            self.wfile.write(b"\0" * (len(DATA) // 2))
        elif kind == "trickle":  # a byte now and then: never a read timeout, never done
            self._head(200, len(DATA))
            for byte in DATA:
                if self.release.wait(0.2):
                    return
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
        elif kind == "redirect":
            self.send_response(302)
            port = self.connection.getsockname()[1]  # another host name, the same server
            self.send_header("Location", f"http://localhost:{port}/good{self.path}")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            body = DATA[first:]
            self.send_response(206 if first else 200)
            if first:
                self.send_header("Content-Range", f"bytes {first}-{len(DATA) - 1}/{len(DATA)}")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        self.close_connection = True

    def _head(self, status: int, length: int) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(length))
        self.end_headers()


def _range_start(header: str | None) -> int:
    return int(header.removeprefix("bytes=").split("-")[0]) if header else 0


@pytest.fixture
def providers() -> Iterator[str]:
    Provider.hits.clear()
    Provider.release.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Provider)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    Provider.release.set()
    server.shutdown()
    server.server_close()


def pull(urls: list[str], target: Path, failures: list[str]) -> str:
    return download(KEY, urls, PATH, HEX, target, None, failures, len(DATA))


def test_a_provider_hanging_up_mid_body_does_not_stop_the_pull(
    providers: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A provider that announces the whole blob, sends a wrong half and hangs up made the HTTP
    library raise out of the pull (no fall-through to the next provider), and left its bytes in
    the part file, which the next provider's resume then extended into a blob that cannot
    verify: one hostile provider listed first stopped every pull of the digest."""
    monkeypatch.setattr(client, "STALL_CHUNK", 1024)  # a blob of many chunks, as real ones are
    failures: list[str] = []
    target = tmp_path / "w.bin"
    used = pull([f"{providers}/truncate", f"{providers}/good"], target, failures)
    assert used == f"{providers}/good" and target.read_bytes() == DATA
    assert any("truncate" in failure for failure in failures)


@pytest.mark.timeout(30)
def test_a_provider_trickling_bytes_is_given_up(
    providers: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A byte every fifth of a second never trips a read timeout, so the pull waited as long as
    the provider liked (days for a real blob); a provider that moves no chunk within the stall
    time is given up and the next one tried."""
    monkeypatch.setattr(client, "STALL_SECONDS", 1.0)
    monkeypatch.setattr(client, "STALL_CHUNK", 1024)
    failures: list[str] = []
    target = tmp_path / "w.bin"
    began = time.monotonic()
    used = pull([f"{providers}/trickle", f"{providers}/good"], target, failures)
    assert used == f"{providers}/good" and target.read_bytes() == DATA
    assert time.monotonic() - began < 10
    assert any("too slow" in failure for failure in failures), failures


def test_a_provider_redirect_is_not_followed(providers: str, tmp_path: Path) -> None:
    """A store never redirects; a provider that does would send the member's client (with its
    signed request) to any address the provider names, inside the member's network too."""
    failures: list[str] = []
    target = tmp_path / "w.bin"
    with pytest.raises(TransferError):
        download(
            KEY,
            [f"{providers}/redirect"],
            PATH,
            HEX,
            target,
            None,
            failures,
            len(DATA),
        )
    assert Provider.hits == ["redirect"]
