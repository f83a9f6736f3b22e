"""A puller facing hostile providers: any member can announce a store for any published digest,
so the client must not let one provider stop it (a 403 from one store is that store's answer,
not the ledger's everywhere) or fill its disk (a provider streaming without end)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from chain.keys import Key, new_private_key
from chain.weights.client import TransferError, download

DATA = b"the real weights" * 1000
HEX = hashlib.sha256(DATA).hexdigest()
PATH = f"/v1/blobs/sha256:{HEX}"


class Hostile(BaseHTTPRequestHandler):
    """/refuse/... answers 403; /flood/... streams far more than any blob; /good/... serves."""

    sent = [0]

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_GET(self) -> None:
        if self.path.startswith("/refuse/"):
            self.send_response(403)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"no")
        elif self.path.startswith("/flood/"):
            self.send_response(200)
            self.end_headers()  # no length: the body runs until the connection closes
            chunk = b"x" * 65536
            try:
                for _ in range(512):  # 32 MiB, against a 16 kB blob
                    self.wfile.write(chunk)
                    self.sent[0] += len(chunk)
            except OSError:
                return
        else:
            self.send_response(200)
            self.send_header("Content-Length", str(len(DATA)))
            self.end_headers()
            self.wfile.write(DATA)
        self.close_connection = True


@pytest.fixture
def stores() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_store_that_refuses_does_not_stop_the_pull(stores: str, tmp_path: Path) -> None:
    """The first provider (its URL sorts first) answers 403 to everyone: the pull goes on to
    the next and gets the verified bytes; the refusal is kept among the failures."""
    failures: list[str] = []
    target = tmp_path / "weights.bin"
    key = Key("puller", new_private_key())
    used = download(
        key, [f"{stores}/refuse", f"{stores}/good"], PATH, HEX, target, None, failures, len(DATA)
    )
    assert used == f"{stores}/good" and target.read_bytes() == DATA
    assert any("403" in failure for failure in failures)


def test_a_store_that_streams_without_end_fills_no_disk(stores: str, tmp_path: Path) -> None:
    """A provider sending more bytes than the chain declares is cut off at that size."""
    failures: list[str] = []
    target = tmp_path / "weights.bin"
    with pytest.raises(TransferError, match="more than"):
        download(
            Key("puller", new_private_key()),
            [f"{stores}/flood"],
            PATH,
            HEX,
            target,
            None,
            failures,
            len(DATA),
        )
    part = target.with_name(target.name + ".part")
    assert not part.exists() or part.stat().st_size <= len(DATA)
