"""A store's follows: the config ``weights follow`` writes and the weights server reads, the
status it records, and the commands around them (the replication itself runs against a real
testnet in tests/integration/test_market_network.py)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from chain.cli.main import cli
from chain.cli.weights import STORE_DIR_ENV
from chain.keys import Keyring
from chain.watch import WatchError
from chain.websocket import WebSocketError
from chain.weights import follow as follow_module
from chain.weights.follow import (
    CONFIG,
    VERSIONS_QUERY,
    Follow,
    Follower,
    FollowError,
    FollowFile,
    Outcome,
    add_follow,
    load_follows,
    load_status,
    remove_follow,
    save_follows,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/chain: the fake node
from fake_ws import FakeNode, published, subscriber, tx_message

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


def _event_node(messages: list[bytes]) -> FakeNode:
    """A node whose one websocket connection takes a subscription, confirms it, sends
    ``messages`` and then closes."""
    return FakeNode([subscriber(1, [], messages, then="close")])


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
    with _event_node([tx_message(7, 0, events)]) as node:
        follower = Follower(tmp_path, node.url, interval=60)
        with pytest.raises(WebSocketError, match="closed"):  # the node closes after its messages
            follower._listen_once()
    assert node.received[0]["params"]["query"] == VERSIONS_QUERY
    assert follower.wake.is_set() is wakes
    assert follower.woken == ({MODEL} if wakes else set())


def test_a_node_that_sends_nonsense_ends_the_subscription_without_a_wake(tmp_path: Path) -> None:
    add_follow(tmp_path, Follow(MODEL, "k", "http://s:1", 0))
    with _event_node([b"not json"]) as node:
        follower = Follower(tmp_path, node.url, interval=60)
        with pytest.raises(WatchError, match="not JSON"):
            follower._listen_once()
    assert not follower.wake.is_set()


def test_a_wake_starts_a_pass_at_once_and_close_ends_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    passes: list[float] = []
    follower = Follower(tmp_path, "http://127.0.0.1:1", interval=60)

    def once(models: object = None) -> list[Outcome]:
        passes.append(time.monotonic())
        return []

    monkeypatch.setattr(follower, "once", once)
    loop = follower.start(listen=False)
    woken = time.monotonic()
    follower.request({MODEL})
    deadline = time.monotonic() + 5
    while not passes and time.monotonic() < deadline:
        time.sleep(0.01)
    assert passes and passes[0] - woken < 5, "a wake runs a pass long before the 60 s poll"
    follower.close()
    loop.join(5)
    assert not loop.is_alive()


# --- what a wake costs: the follows read when they changed, a pass over the woken model's ------


def test_the_follows_are_read_once_for_many_publications_until_the_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_follow(tmp_path, Follow(MODEL, "k", "http://s:1", 0))
    reads: list[Path] = []

    def counted(store_dir: Path) -> list[Follow]:
        reads.append(store_dir)
        return load_follows(store_dir)

    monkeypatch.setattr(follow_module, "load_follows", counted)
    messages = [tx_message(7 + i, 0, [published(f"2.{i}")]) for i in range(20)]
    with _event_node(messages) as node:
        follower = Follower(tmp_path, node.url, interval=60)
        with pytest.raises(WebSocketError, match="closed"):
            follower._listen_once()
    assert len(reads) == 1, "twenty publications, one read of an unchanged file"
    assert follower.woken == {MODEL}
    assert [f.model for f in follower.follows.read()] == [MODEL] and len(reads) == 1


def _same_stamp_but(path: Path, body: bytes, like: os.stat_result, replace: bool) -> None:
    """Write ``body`` to ``path`` (in place, or replacing it) with ``like``'s mtime."""
    if replace:
        part = path.with_name("part")
        part.write_bytes(body)
        os.replace(part, path)
    else:
        path.write_bytes(body)
    os.utime(path, ns=(like.st_atime_ns, like.st_mtime_ns))


def test_a_follow_file_is_read_again_when_its_inode_size_or_time_changes(tmp_path: Path) -> None:
    follows = FollowFile(tmp_path)
    assert follows.read() == []  # no file yet
    save_follows(tmp_path, [Follow("acme-ai/aaaa", "k", "http://s:1")])
    assert [f.model for f in follows.read()] == ["acme-ai/aaaa"]
    path = tmp_path / CONFIG
    before = path.stat()
    body = path.read_bytes()
    _same_stamp_but(path, body.replace(b"aaaa", b"bbbb"), before, replace=True)  # inode
    assert [f.model for f in follows.read()] == ["acme-ai/bbbb"]
    now = path.stat()
    _same_stamp_but(path, body.replace(b"aaaa", b"cc"), now, replace=False)  # size
    assert [f.model for f in follows.read()] == ["acme-ai/cc"]
    path.write_bytes(body.replace(b"aaaa", b"dd"))  # same size, a later time
    os.utime(path, ns=(now.st_atime_ns, now.st_mtime_ns + 1_000_000))
    assert [f.model for f in follows.read()] == ["acme-ai/dd"]
    path.write_text("not json")
    with pytest.raises(FollowError):
        follows.read()
    path.unlink()
    assert follows.read() == []


def _recording(follower: Follower, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Each pass's followed models, in order (a pass replicates nothing here)."""
    passes: list[list[str]] = []
    original = follower.once

    def once(models: set[str] | None = None) -> list[Outcome]:
        passes.append([])
        return original() if models is None else original(models)

    def one(follow: Follow) -> list[Outcome]:
        passes[-1].append(follow.model)
        return []

    monkeypatch.setattr(follower, "once", once)
    monkeypatch.setattr(follower, "_one", one)
    return passes


def _until(done: object, seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.01)


OTHER = "acme-ai/audio"


def test_a_wake_for_a_model_passes_over_that_model_s_follows_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_follow(tmp_path, Follow(MODEL, "k", "http://s:1", 0))
    add_follow(tmp_path, Follow(OTHER, "k", "http://s:1", 0))
    with _event_node([tx_message(7, 0, [published("2.0")])]) as node:
        follower = Follower(tmp_path, node.url, interval=60)
        passes = _recording(follower, monkeypatch)
        loop = follower.start(listen=False)
        with pytest.raises(WebSocketError, match="closed"):
            follower._listen_once()
        _until(lambda: passes and passes[-1])
    follower.close()
    loop.join(5)
    assert passes == [[MODEL]], "a version of one model, a pass over its follow alone"


def test_the_poll_passes_over_every_follow_even_while_wakes_keep_coming(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_follow(tmp_path, Follow(MODEL, "k", "http://s:1", 0))
    add_follow(tmp_path, Follow(OTHER, "k", "http://s:1", 0))
    follower = Follower(tmp_path, "http://127.0.0.1:1", interval=0.5)
    passes = _recording(follower, monkeypatch)
    loop = follower.start(listen=False)
    deadline = time.monotonic() + 1.6
    while time.monotonic() < deadline:  # a wake every 50 ms, for three polls' time
        follower.request({MODEL})
        time.sleep(0.05)
    follower.close()
    loop.join(5)
    assert [MODEL] in passes
    full = [p for p in passes if p == [OTHER, MODEL]]
    assert 2 <= len(full) <= 4, passes
