"""A store's follows: the config ``weights follow`` writes and the weights server reads, the
status it records, and the commands around them (the replication itself runs against a real
testnet in tests/integration/test_market_network.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from chain.cli.main import cli
from chain.cli.weights import STORE_DIR_ENV
from chain.keys import Keyring
from chain.weights.follow import (
    CONFIG,
    Follow,
    Follower,
    FollowError,
    add_follow,
    load_follows,
    load_status,
    remove_follow,
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
