"""Hostile names, by kind: a trailing newline, non-ASCII look-alikes, Unicode whitespace and
empty strings in every name a registry message carries; integers at their extremes.

``$`` used to accept a trailing newline ("acme/model\\n" was a valid model id) and ``\\s``
follows the interpreter's Unicode database: each case must be refused with a registered code,
and the log must quote the input the same way on every Python (printable ASCII only).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from driver import Driver, digest, publish, publish_body, register, transfer

from app.core import names
from app.core.errors import ErrorCode
from app.core.text import quote
from app.models import errors
from app.models import validation as v
from app.pb.modelgov.v1 import tx_pb2

MODEL = "uni/base"


def expect(result: Any, error: ErrorCode) -> None:
    assert (result.codespace, result.code) == (error.codespace, error.code), result.log
    assert result.log.isascii() and result.log.isprintable(), result.log


def announce(url: str, digest_: str = digest(f"{MODEL}@1.0")) -> tx_pb2.Msg:
    return tx_pb2.Msg(announce_provider=tx_pb2.AnnounceProvider(digest=digest_, url=url))


@pytest.fixture
def registry(chain: Driver) -> Driver:
    chain.ok("uni-pub", register("uni", "base"), publish(MODEL, "1.0"))
    return chain


ODD = [
    ("trailing-newline", "{}\n"),
    ("leading-newline", "\n{}"),
    ("crlf", "{}\r\n"),
    ("nul", "{}\x00"),
    ("dotless-i", "{}\u0131"),
    ("fullwidth-digit", "{}\uff11"),
    ("arabic-digit", "{}\u0661"),
    ("nbsp", "{}\u00a0"),
    ("line-separator", "{}\u2028"),
    ("astral", "{}\U0001f600"),
]


def odd(value: str) -> list[Any]:
    return [pytest.param(pattern.format(value), id=name) for name, pattern in ODD]


@pytest.mark.parametrize("name", [*odd("base2"), pytest.param("", id="empty")])
def test_odd_model_names_are_refused(chain: Driver, name: str) -> None:
    expect(chain.run("uni-pub", register("uni", name)), errors.INVALID_NAME)


@pytest.mark.parametrize("org", [*odd("uni"), pytest.param("", id="empty")])
def test_odd_owner_orgs_are_refused(chain: Driver, org: str) -> None:
    expect(chain.run("uni-pub", register(org, "m")), errors.INVALID_FIELD)


PUBLISH_FIELDS: list[tuple[str, str, str, ErrorCode]] = [
    ("model", "uni/base", "{}", errors.INVALID_NAME),
    ("version", "2.0", "{}", errors.INVALID_VERSION),
    ("weights_digest", digest("w"), "{}", errors.INVALID_DIGEST),
    ("framework", "pytorch", "{}", errors.INVALID_FIELD),
    ("license", "uni/open", "{}", errors.INVALID_FIELD),
    ("model_card_digest", digest("card"), "{}", errors.INVALID_DIGEST),
]


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        pytest.param(field, pattern.format(valid), error, id=f"{field}-{name}")
        for field, valid, _, error in PUBLISH_FIELDS
        for name, pattern in ODD
    ],
)
def test_odd_publish_fields_are_refused(
    registry: Driver, field: str, value: str, error: ErrorCode
) -> None:
    fields = {"model": MODEL, "version": "2.0", field: value}
    body = publish_body(fields.pop("model"), fields.pop("version"), **fields)
    expect(registry.run("uni-pub", tx_pb2.Msg(publish_version=body)), error)


@pytest.mark.parametrize(
    "uri",
    [
        "https://host/a b",
        "https://host/a\u00a0b",
        "https://host/a\u2028b",
        "https://host/a\u0085b",
        "https://host/a\x1cb",
        "https://host/caf\u00e9",
        "https://host/a\n",
        "https://",
        "https://host/" + "a" * 500,
    ],
    ids=["space", "nbsp", "line-sep", "nel", "file-sep", "non-ascii", "newline", "empty", "long"],
)
def test_storage_uris_are_printable_ascii(registry: Driver, uri: str) -> None:
    expect(registry.run("uni-pub", publish(MODEL, "2.0", storage_uris=[uri])), errors.INVALID_FIELD)


def test_a_storage_uri_of_every_printable_ascii_character_is_accepted(registry: Driver) -> None:
    uri = "s3://" + "".join(chr(c) for c in range(0x21, 0x7F))
    registry.ok("uni-pub", publish(MODEL, "2.0", storage_uris=[uri]))


@pytest.mark.parametrize(
    "url",
    ["http://host:1/\n", "http://host\n", "http://h\u00f6st", "http://host/a\u2028", "ftp://host"],
    ids=["path-newline", "host-newline", "non-ascii-host", "line-sep", "scheme"],
)
def test_odd_store_urls_are_refused(registry: Driver, url: str) -> None:
    expect(registry.run("uni-pub", announce(url)), errors.INVALID_FIELD)


@pytest.mark.parametrize(
    "name", [*odd("accuracy"), pytest.param("", id="empty"), pytest.param("a" * 65, id="long")]
)
def test_odd_metric_names_are_refused(registry: Driver, name: str) -> None:
    metrics = [tx_pb2.Metric(name=name, int_value=1)]
    expect(registry.run("uni-pub", publish(MODEL, "2.0", metrics=metrics)), errors.INVALID_FIELD)


@pytest.mark.parametrize("org", [*odd("acme"), pytest.param("", id="empty")])
def test_odd_transfer_targets_are_refused(registry: Driver, org: str) -> None:
    registry.accounts["uni-admin"].roles = ("admin", "publisher")
    expect(registry.run("uni-admin", transfer(MODEL, org)), errors.INVALID_FIELD)


INTEGERS = [
    ("size-zero", {"size_bytes": 0}, errors.INVALID_FIELD),
    ("size-u64-max", {"size_bytes": 2**64 - 1}, None),
    ("metric-int64-min", {"metrics": [tx_pb2.Metric(name="m", int_value=-(2**63))]}, None),
    ("metric-scale-18", {"metrics": [tx_pb2.Metric(name="m", int_value=1, scale=18)]}, None),
    (
        "metric-scale-u32-max",
        {"metrics": [tx_pb2.Metric(name="m", int_value=1, scale=2**32 - 1)]},
        errors.INVALID_FIELD,
    ),
]


@pytest.mark.parametrize(
    ("fields", "error"), [c[1:] for c in INTEGERS], ids=[c[0] for c in INTEGERS]
)
def test_publish_integers_at_their_extremes(
    registry: Driver, fields: dict[str, Any], error: ErrorCode | None
) -> None:
    result = registry.run("uni-pub", publish(MODEL, "2.0", **fields))
    if error is None:
        assert result.code == 0, result.log
    else:
        expect(result, error)


@pytest.mark.parametrize(
    "text", [pytest.param(p.format("x"), id=n) for n, p in ODD] + [pytest.param("'\\", id="esc")]
)
def test_a_refusal_quotes_its_input_by_code_point(text: str) -> None:
    with pytest.raises(Exception) as caught:
        v.check_version(text)
    assert quote(text, 64) in str(caught.value)


def test_every_pattern_is_anchored_at_both_ends() -> None:
    patterns = [
        getattr(module, n)
        for module in (v, names)
        for n in dir(module)
        if isinstance(getattr(module, n), re.Pattern)
    ]
    assert len(patterns) >= 9
    for pattern in patterns:
        assert pattern.pattern.startswith("\\A") and pattern.pattern.endswith("\\Z"), pattern
        for forbidden in ("\\s", "\\d", "\\w", "\\S", "\\D", "\\W", "$", "^"):
            assert forbidden not in pattern.pattern, pattern
