"""What an operator asks of a node first: is it up, at which height, with whom, running what.

One report per node from its JSON-RPC: ``/status`` (height, app hash, catching up, versions),
``/net_info`` (peers), ``/validators`` (every page: count and total voting power) and
``/abci_info`` (the application's software and protocol versions, and the Python it runs on).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from chain.rpc import RpcClient, RpcError

VALIDATORS_PER_PAGE = 100


@dataclass(frozen=True)
class NodeReport:
    """One node's answers; ``error`` says why the others are empty when it did not answer."""

    name: str
    rpc: str
    reachable: bool
    error: str = ""
    moniker: str = ""
    node_id: str = ""
    chain_id: str = ""
    engine_version: str = ""
    app_version: str = ""
    app_protocol: int = 0
    app_python: str = ""
    height: int = 0
    block_time: str = ""
    app_hash: str = ""
    catching_up: bool = False
    peers: int = 0
    validators: int = 0
    voting_power: int = 0
    is_validator: bool = False
    block_age_s: int = -1
    problem: str = ""


MAX_BLOCK_AGE_S = 30
"""A node whose newest block is older than this is reported as stalled (blocks take ~1 s)."""


def node_report(
    url: str, name: str = "", timeout: float = 5.0, max_age: int = MAX_BLOCK_AGE_S
) -> NodeReport:
    """Ask the node at ``url``; a node that does not answer gives a report with ``error``, and
    ``problem`` says in words what is wrong (unreachable, no block for N s, catching up)."""
    client = RpcClient(url, timeout=timeout)
    try:
        status = client.status()
        peers = int(client.net_info()["n_peers"])
        count, power = validator_set(client)
        app = client.call("abci_info")["response"]
    except (RpcError, KeyError, ValueError) as exc:
        return NodeReport(name or url, url, False, error=str(exc), problem=f"unreachable: {exc}")
    found = _report(name or status["node_info"]["moniker"], url, status, peers, count, power, app)
    age = block_age(found.block_time, time.time())
    return replace(found, block_age_s=age, problem=problem_of(found.height, age, max_age))


def block_age(rfc3339: str, now: float) -> int:
    """Whole seconds since an engine timestamp (2026-11-24T14:02:03.123456789Z); -1 when it
    does not parse."""
    try:
        whole = rfc3339.split(".")[0].rstrip("Z")
        stamp = datetime.fromisoformat(whole).replace(tzinfo=UTC).timestamp()
    except (ValueError, AttributeError):
        return -1
    return max(0, int(now - stamp))


def problem_of(height: int, age: int, max_age: int, catching_up: bool = False) -> str:
    """What is wrong with a node that answers, in words ("" when nothing is)."""
    if height <= 0:
        return "no block committed yet"
    if age > max_age:
        return f"no new block for {age} s (last at height {height}): the chain or this node stalled"
    if catching_up:
        return "catching up with its peers"
    return ""


def _report(
    name: str,
    url: str,
    status: dict[str, Any],
    peers: int,
    count: int,
    power: int,
    app: dict[str, Any],
) -> NodeReport:
    info, sync = status["node_info"], status["sync_info"]
    return NodeReport(
        name=name,
        rpc=url,
        reachable=True,
        moniker=info["moniker"],
        node_id=info["id"],
        chain_id=info["network"],
        engine_version=info["version"],
        app_version=str(app.get("version", "")),
        app_protocol=int(app.get("app_version", 0)),
        app_python=python_of(str(app.get("data", ""))),
        height=int(sync["latest_block_height"]),
        block_time=sync["latest_block_time"],
        app_hash=sync["latest_app_hash"],
        catching_up=bool(sync["catching_up"]),
        peers=peers,
        validators=count,
        voting_power=power,
        is_validator=int(status["validator_info"]["voting_power"]) > 0,
    )


def python_of(data: str) -> str:
    """The Python an app names in /abci_info's data, e.g. "3.11.7 CPython" from
    "modelgov python=3.11.7 CPython"; empty when it names none (an older app)."""
    words = data.split()
    for i, word in enumerate(words):
        if word.startswith("python="):
            return " ".join([word.removeprefix("python="), *words[i + 1 : i + 2]])
    return ""


def validator_set(client: RpcClient) -> tuple[int, int]:
    """The latest validator set's size and total voting power, reading every page."""
    count, power, page = 0, 0, 1
    while True:
        result = client.call("validators", page=str(page), per_page=str(VALIDATORS_PER_PAGE))
        entries = result["validators"]
        count += len(entries)
        power += sum(int(v["voting_power"]) for v in entries)
        if not entries or count >= int(result["total"]):
            return count, power
        page += 1
