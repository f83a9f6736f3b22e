"""The application's Prometheus exporter: what the state machine did, scraped per node.

The server reports every answered request here (method, seconds, response); the deterministic
core never sees a clock, and nothing here feeds back into it. Each ``AppMetrics`` owns its own
registry, so two apps in one process (tests) never share counters.

Names follow Prometheus conventions (base units in the name, ``_total`` for counters). Labels are
bounded: ABCI methods, message kinds (the ``Msg`` oneof), codespaces and registered error names,
organisations, purposes and model ids from the ledger (the first MAX_MODEL_LABELS models, then
one shared label); never hashes, addresses or free text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from google.protobuf.message import Message
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from app import APP_VERSION, SOFTWARE_VERSION, machine
from app.abci.modelgov_app import ModelgovApp
from app.core.errors import registered
from app.pb.modelgov.v1 import tx_pb2
from app.pb.tendermint.abci import types_pb2 as abci

# Latency buckets (seconds) from 0.5 ms to 10 s: CheckTx is sub-millisecond, blocks are longer.
SECONDS_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)
GAS_BUCKETS = (100, 300, 1_000, 3_000, 10_000, 30_000, 100_000, 300_000, 1_000_000)
TXS_BUCKETS = (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
MESSAGE_KINDS = frozenset(f.name for f in tx_pb2.Msg.DESCRIPTOR.oneofs_by_name["sum"].fields)
OK, NONE, UNREGISTERED = "ok", "none", "unregistered"
MAX_MODEL_LABELS = 500
"""Distinct model ids a node labels its series with; later models count under OTHER_MODELS,
so a member registering models without end cannot grow the exporter's memory and scrapes."""
OTHER_MODELS = "_other"
RECHECK = "recheck_tx"
"""The method label of a CheckTx the engine sends again after a block."""


def error_name(codespace: str, code: int) -> str:
    """The registered name of a result (``ok`` for code 0) — a bounded label, never the log."""
    if code == 0:
        return OK
    names = {(e.codespace, e.code): e.name for e in registered()}
    return names.get((codespace, code), UNREGISTERED)


def message_kinds(info: str) -> list[str]:
    """The message kinds a tx result names in ``info``; ``none`` when it names none it knows."""
    kinds = [k for k in info.split(",") if k in MESSAGE_KINDS]
    return kinds or [NONE]


class BoundedLabels:
    """Label values seen first keep their own series, up to ``cap``; later ones share
    ``other``."""

    def __init__(self, cap: int, other: str) -> None:
        self.cap = cap
        self.other = other
        self._seen: set[str] = set()

    def __call__(self, value: str) -> str:
        if value in self._seen:
            return value
        if len(self._seen) >= self.cap:
            return self.other
        self._seen.add(value)
        return value


def attributes(event: abci.Event) -> dict[str, str]:
    """An event's attributes as a dict."""
    return {a.key: a.value for a in event.attributes}


class AppMetrics:
    """Observer the ABCI server calls after each answered request; owns its registry."""

    def __init__(self, app: ModelgovApp, registry: CollectorRegistry | None = None) -> None:
        self.app = app
        self.registry = registry or CollectorRegistry()
        self.stop: Callable[[], None] = _nothing  # start_exporter sets: stop serving /metrics
        self.model_label = BoundedLabels(MAX_MODEL_LABELS, OTHER_MODELS)
        r = self.registry
        self.info = Gauge(
            "modelgov_build_info",
            "Always 1; labels name the app's software and protocol versions",
            ["version", "app_version"],
            registry=r,
        )
        self.info.labels(SOFTWARE_VERSION, str(APP_VERSION)).set(1)
        self.height = Gauge(
            "modelgov_committed_height", "Height of the last committed block", registry=r
        )
        self.state_keys = Gauge(
            "modelgov_state_keys", "Key-values in the committed application state", registry=r
        )
        self.state_nodes = Gauge(
            "modelgov_state_tree_nodes", "Merkle tree nodes stored for the state", registry=r
        )
        self.method_seconds = Histogram(
            "modelgov_abci_method_seconds",
            "Time the app took to answer each ABCI method",
            ["method"],
            buckets=SECONDS_BUCKETS,
            registry=r,
        )
        self.tx_seconds = Histogram(
            "modelgov_finalize_block_tx_seconds",
            "FinalizeBlock time divided by the block's number of transactions",
            buckets=SECONDS_BUCKETS,
            registry=r,
        )
        self.cpu_seconds = Counter(
            "modelgov_abci_cpu_seconds",
            "CPU time of the thread answering each ABCI method (check_tx: new txs only; "
            "recheck_tx: the txs the engine checks again after each block)",
            ["method"],
            registry=r,
        )
        self.requests = Counter(
            "modelgov_abci_requests",
            "ABCI requests answered, by method (check_tx and recheck_tx apart)",
            ["method"],
            registry=r,
        )
        self.commit_seconds = Histogram(
            "modelgov_store_commit_seconds",
            "Time of Commit: the block's one synced LevelDB write batch",
            buckets=SECONDS_BUCKETS,
            registry=r,
        )
        self.block_txs = Histogram(
            "modelgov_block_transactions",
            "Transactions per finalized block",
            buckets=TXS_BUCKETS,
            registry=r,
        )
        self.txs = Counter(
            "modelgov_transactions_total",
            "Messages executed in blocks, by kind and result (codespace and registered error)",
            ["kind", "codespace", "error"],
            registry=r,
        )
        self.checks = Counter(
            "modelgov_check_tx_total",
            "Transactions checked for the mempool, by result (codespace and registered error)",
            ["codespace", "error"],
            registry=r,
        )
        self._ledger_metrics(r)

    def _ledger_metrics(self, r: CollectorRegistry) -> None:
        """What the consortium did, from the events and results of committed blocks."""
        self.receipts = Counter(
            "modelgov_receipts_total",
            "Uses the license allowed (one receipt each)",
            ["model", "purpose", "consumer_org", "licensor"],
            registry=r,
        )
        self.fees = Counter(
            "modelgov_fees_paid_credits_total",
            "License fees paid, in consortium credits",
            ["licensor", "consumer_org"],
            registry=r,
        )
        self.gas = Histogram(
            "modelgov_license_gas",
            "Gas a license script used to decide an allowed use",
            ["model"],
            buckets=GAS_BUCKETS,
            registry=r,
        )
        self.denials = Counter(
            "modelgov_use_denials_total",
            "Use transactions refused, by registered error (denied, out_of_gas, fee_above_max...)",
            ["reason"],
            registry=r,
        )
        self.models = Counter(
            "modelgov_models_registered_total", "Models registered", ["org"], registry=r
        )
        self.versions = Counter(
            "modelgov_versions_published_total", "Model versions published", ["model"], registry=r
        )
        self.licenses = Counter(
            "modelgov_licenses_deployed_total", "License contracts deployed", registry=r
        )
        self.credits = Counter(
            "modelgov_credits_transferred_total",
            "Credits moved by transfer transactions",
            ["from_org", "to_org"],
            registry=r,
        )
        self._observe_state()

    def observe(
        self,
        method: str,
        seconds: float,
        response: Message,
        cpu_seconds: float = 0.0,
        recheck: bool = False,
    ) -> None:
        """Record one answered request (called by the server, outside consensus)."""
        self.method_seconds.labels(method).observe(seconds)
        split = RECHECK if recheck else method
        self.cpu_seconds.labels(split).inc(max(cpu_seconds, 0.0))
        self.requests.labels(split).inc()
        if method == "commit":
            self.commit_seconds.observe(seconds)
            self._observe_state()
        elif method == "finalize_block" and isinstance(response, abci.ResponseFinalizeBlock):
            self._observe_block(seconds, response)
        elif method == "check_tx" and isinstance(response, abci.ResponseCheckTx):
            codespace = response.codespace if response.code else ""
            self.checks.labels(codespace, error_name(response.codespace, response.code)).inc()

    def _observe_state(self) -> None:
        stats = self.app.store.stats()
        self.height.set(stats["height"])
        self.state_keys.set(stats["keys"])
        self.state_nodes.set(stats["nodes"])

    def _observe_block(self, seconds: float, response: abci.ResponseFinalizeBlock) -> None:
        count = len(response.tx_results)
        self.block_txs.observe(count)
        if count:
            self.tx_seconds.observe(seconds / count)
        for result in response.tx_results:
            self._observe_tx(result)

    def _observe_tx(self, result: abci.ExecTxResult) -> None:
        name = error_name(result.codespace, result.code)
        codespace = result.codespace if result.code else ""
        kinds = message_kinds(result.info)
        for kind in kinds:
            self.txs.labels(kind, codespace, name).inc()
        if result.code and "use" in kinds:
            self.denials.labels(name).inc()
        self._observe_events(result.events)

    def _observe_events(self, events: Iterable[abci.Event]) -> None:
        for event in events:
            attrs = attributes(event)
            if event.type == machine.EVENT_RECEIPT:
                self._observe_receipt(attrs)
            elif event.type == machine.EVENT_MODEL_REGISTERED:
                self.models.labels(attrs.get("owner", "")).inc()
            elif event.type == machine.EVENT_VERSION_PUBLISHED:
                self.versions.labels(self.model_label(attrs.get("model", ""))).inc()
            elif event.type == machine.EVENT_LICENSE_DEPLOYED:
                self.licenses.inc()
            elif event.type == machine.EVENT_CREDITS_MOVED:
                amount = _integer(attrs.get("amount", ""))
                self.credits.labels(attrs.get("from", ""), attrs.get("to", "")).inc(amount)

    def _observe_receipt(self, attrs: dict[str, str]) -> None:
        model = self.model_label(attrs.get("model", ""))
        licensor, consumer = attrs["licensor"], attrs["consumer_org"]
        self.receipts.labels(model, attrs.get("purpose", ""), consumer, licensor).inc()
        self.fees.labels(licensor, consumer).inc(_integer(attrs.get("fee", "")))
        self.gas.labels(model).observe(_integer(attrs.get("gas", "")))


def _nothing() -> None:
    """No exporter to stop."""


def _integer(text: str) -> int:
    """An event's integer attribute; 0 when absent or malformed (metrics never stop a node)."""
    return int(text) if text.isdigit() else 0


def start_exporter(address: str, app: ModelgovApp) -> AppMetrics:
    """Serve /metrics on ``address`` (HOST:PORT); returns the observer to hand the server."""
    host, _, port = address.rpartition(":")
    metrics = AppMetrics(app)
    server, _ = start_http_server(int(port), addr=host or "127.0.0.1", registry=metrics.registry)
    metrics.stop = server.shutdown
    return metrics
