"""The application's Prometheus exporter: what the state machine did, scraped per node.

The server reports every answered request here (method, seconds, response); the deterministic
core never sees a clock. Labels are bounded: ABCI methods and result codes, never hashes or text.
"""

from __future__ import annotations

from google.protobuf.message import Message
from prometheus_client import Counter, Gauge, Histogram, start_http_server

from app.abci.modelgov_app import ModelgovApp

COMMITTED_HEIGHT = Gauge("modelgov_committed_height", "Height of the last committed block")
METHOD_SECONDS = Histogram(
    "modelgov_abci_method_seconds", "Time the app took to answer each ABCI method", ["method"]
)
BLOCK_TXS = Counter(
    "modelgov_block_transactions_total",
    "Transactions executed in blocks, by result codespace and code",
    ["codespace", "code"],
)
CHECK_TXS = Counter(
    "modelgov_check_tx_total", "Transactions checked for the mempool, by result", ["result"]
)


class AppMetrics:
    """Observer the ABCI server calls after each answered request."""

    def __init__(self, app: ModelgovApp) -> None:
        self.app = app
        COMMITTED_HEIGHT.set(app.store.height)

    def observe(self, method: str, seconds: float, response: Message) -> None:
        """Record one answered request."""
        METHOD_SECONDS.labels(method).observe(seconds)
        if method == "commit":
            COMMITTED_HEIGHT.set(self.app.store.height)
        elif method == "finalize_block":
            for result in getattr(response, "tx_results", ()):
                BLOCK_TXS.labels(result.codespace or "ok", str(result.code)).inc()
        elif method == "check_tx":
            CHECK_TXS.labels("accepted" if response.code == 0 else "rejected").inc()  # type: ignore[attr-defined]


def start_exporter(address: str, app: ModelgovApp) -> AppMetrics:
    """Serve /metrics on ``address`` (HOST:PORT); returns the observer to hand the server."""
    host, _, port = address.rpartition(":")
    start_http_server(int(port), addr=host or "127.0.0.1")
    return AppMetrics(app)
