"""A store's follows: the config ``weights follow`` writes and the weights server reads, the
status it records, and the commands around them (the replication itself runs against a real
testnet in tests/integration/test_market_network.py)."""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from chain.cli.main import cli
from chain.cli.weights import STORE_DIR_ENV
from chain.keys import Keyring
from chain.watch import WatchError
from chain.websocket import WebSocketError
from chain.weights.follow import (
    CONFIG,
    VERSIONS_QUERY,
    Follow,
    Follower,
    FollowError,
    Outcome,
    add_follow,
    load_follows,
    load_status,
    remove_follow,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from test_watch import (
    frame,
    handshake,
    published,
    read_client_frame,
    tx_message,
)

MODEL = "acme-ai/vision"


def test_follows_round_trip_and_a_new_follow_of_a_model_replaces_the_old(tmp_path: Path) -> None:
    assert load_follows(tmp_path) == []
    add_follow(tmp_path, Follow(MODEL, "k", "http://s:1", 0))
    add_follow(tmp_path, Follow("acme-ai/audio", "k", "http://s:1", 5))
    add_follow(tmp_path, Follow(MODEL, "k2", "http://s:1", 9))
    assert [(f.model, f.key, f.max_fee) for f in load_follows(tmp_path)] == [
        ("acme-ai/audio", "k", 5),
        (MODEL, "k2", 9),
    ]
    assert remove_follow(tmp_path, MODEL) and not remove_follow(tmp_path, MODEL)
    assert [f.model for f in load_follows(tmp_path)] == ["acme-ai/audio"]


@pytest.mark.parametrize(
    "body", ["not json", '{"follows": [{"model": "a/b"}]}', '{"follows": [{"x": 1}]}']
)
def test_a_broken_config_is_a_follow_error_and_the_server_carries_on(
    tmp_path: Path, body: str
) -> None:
    (tmp_path / CONFIG).write_text(body)
    with pytest.raises(FollowError):
        load_follows(tmp_path)
    assert Follower(tmp_path, "http://127.0.0.1:1").once() == []


def test_a_follow_whose_key_is_gone_is_recorded_as_failed(tmp_path: Path) -> None:
    add_follow(tmp_path, Follow(MODEL, "nobody", "http://s:1", 0, str(tmp_path / "keys")))
    [outcome] = Follower(tmp_path, "http://127.0.0.1:1").once()
    assert outcome.result == "failed"
    assert load_status(tmp_path)[MODEL]["result"] == "failed"


def test_the_cli_follows_lists_and_unfollows(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    Keyring(keys).add("acme-ml")
    store = tmp_path / "store"
    runner = CliRunner()
    base = ["--store", str(store)]
    done = runner.invoke(
        cli,
        ["weights", "follow", MODEL, *base, "--from", "acme-ml", "--keyring", str(keys),
         "--max-fee", "7", "--node", "http://127.0.0.1:8657"],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    [follow] = load_follows(store)
    assert (follow.url, follow.max_fee, follow.keyring) == (
        "http://127.0.0.1:8662",
        7,
        str(keys.resolve()),
    )
    listed = runner.invoke(
        cli, ["weights", "follows", "-o", "json"], env={STORE_DIR_ENV: str(store)}
    )  # the store from the variable
    assert json.loads(listed.output)["follows"][0]["model"] == MODEL
    assert runner.invoke(cli, ["weights", "unfollow", MODEL, *base]).exit_code == 0
    assert runner.invoke(cli, ["weights", "unfollow", MODEL, *base]).exit_code == 1
    assert load_follows(store) == []


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (["acme-ai/vision", "--from", "nobody"], "nobody"),
        (["not-a-model", "--from", "acme-ml"], "ORG/NAME"),
    ],
)
def test_the_cli_refuses_a_missing_key_or_a_bad_model(
    tmp_path: Path, args: list[str], why: str
) -> None:
    keys = tmp_path / "keys"
    Keyring(keys).add("acme-ml")
    store = tmp_path / "store"
    done = CliRunner().invoke(
        cli, ["weights", "follow", *args, "--store", str(store), "--keyring", str(keys)]
    )
    assert done.exit_code != 0 and why in (done.output + str(done.exception))
    assert load_follows(store) == []


# --- woken by the engine's events -----------------------------------------------------------------


def _event_node(messages: list[bytes]) -> tuple[str, list[dict[str, Any]], threading.Thread]:
    """A websocket node (one connection) that takes a subscription, confirms it, sends
    ``messages`` and then closes; returns its URL, what it received and its thread."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    received: list[dict[str, Any]] = []

    def serve() -> None:
        conn, _ = listener.accept()
        with conn, contextlib.suppress(OSError):
            handshake(conn)
            received.append(json.loads(read_client_frame(conn)[1]))
            conn.sendall(frame(0x1, json.dumps({"id": 1, "result": {}}).encode()))
            conn.sendall(b"".join(frame(0x1, m) for m in messages))
            conn.sendall(frame(0x8, b""))
        listener.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}", received, thread


@pytest.mark.parametrize(
    ("events", "wakes"),
    [
        ([published("2.0")], True),
        ([published("2.0", model="acme-ai/other")], False),
        ([("license.attached", {"model": MODEL, "version": "2.0"})], False),
        ([], False),
    ],
    ids=["followed-version", "other-model", "other-event", "no-event"],
)
def test_a_new_version_of_a_followed_model_wakes_the_follower(
    tmp_path: Path, events: list[tuple[str, dict[str, str]]], wakes: bool
) -> None:
    add_follow(tmp_path, Follow(MODEL, "k", "http://s:1", 0))
    url, received, thread = _event_node([tx_message(7, 0, events)])
    follower = Follower(tmp_path, url, interval=60)
    with pytest.raises(WebSocketError, match="closed"):  # the node closes after its messages
        follower._listen_once()
    thread.join(5)
    assert received[0]["params"]["query"] == VERSIONS_QUERY
    assert follower.wake.is_set() is wakes


def test_a_node_that_sends_nonsense_ends_the_subscription_without_a_wake(tmp_path: Path) -> None:
    add_follow(tmp_path, Follow(MODEL, "k", "http://s:1", 0))
    url, _, thread = _event_node([b"not json"])
    follower = Follower(tmp_path, url, interval=60)
    with pytest.raises(WatchError, match="not JSON"):
        follower._listen_once()
    thread.join(5)
    assert not follower.wake.is_set()


def test_a_wake_starts_a_pass_at_once_and_close_ends_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    passes: list[float] = []
    follower = Follower(tmp_path, "http://127.0.0.1:1", interval=60)

    def once() -> list[Outcome]:
        passes.append(time.monotonic())
        return []

    monkeypatch.setattr(follower, "once", once)
    loop = follower.start(listen=False)
    woken = time.monotonic()
    follower.wake.set()
    deadline = time.monotonic() + 5
    while not passes and time.monotonic() < deadline:
        time.sleep(0.01)
    assert passes and passes[0] - woken < 5, "a wake runs a pass long before the 60 s poll"
    follower.close()
    loop.join(5)
    assert not loop.is_alive()
