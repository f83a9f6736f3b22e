"""Genesis, the kernel's part: the shape every domain's genesis has, the error it refuses with,
the context it checks references against, and the readers of JSON fields that name what they
refuse.

Every domain has a ``genesis`` module with the same four functions (``DomainGenesis``), and the
machine calls them in its genesis order:

- ``default()``: the domain's sections of ``app_state`` as a chain without records has them;
- ``validate(part, context)``: the domain's sections (only its own keys of ``app_state``)
  checked field by field, refused with ``GenesisError(field, reason)``; returns what ``init``
  writes. It checks what the store's keys and the other domains rely on: ids and names that
  become key parts, references to the records of domains before it in genesis order (the
  ``context``, which it extends with its own names), counters against the ids they gave;
- ``init(state, parsed)``: writes the validated records through the domain's keeper, and with
  them every index the keeper derives from them;
- ``export(state)``: every record of the domain, JSON-friendly and in store-key order, such that
  ``init(validate(export(s)))`` on an empty state writes exactly the keys and values the domain
  holds in ``s``.

Records that are protobuf messages travel as canonical protobuf JSON (``google.protobuf.
json_format``, field names as in the ``.proto``, 64-bit integers as strings, bytes as base64):
a consortium reads the genesis it signs off, and a field named in a refusal is a field it can
find. Nothing is lost on the way: the records have no maps and no floats, and parsing then
serializing a message gives back the bytes the keeper stored (``tests/app/test_genesis_round_trip``
checks every key of a chain that ran every message kind).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message

from app.core.text import quote
from app.state import Overlay, Reader

MAX_U64 = 2**64 - 1
MAX_TEXT = 256
MAX_KEY_PART_BYTES = 1024
"""Longest name that becomes part of a store key (a manifest path is the longest there is)."""

M = TypeVar("M", bound=Message)


class GenesisError(ValueError):
    """A genesis field is malformed; ``field`` names it like ``accounts[2].roles``."""

    field: str
    reason: str

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


@dataclass
class GenesisContext:
    """What the domains validated so far define, for the domains after them to check their
    references against (only ever asked for membership: nothing iterates these sets)."""

    orgs: set[str] = field(default_factory=set)
    """Member organisations (members)."""
    removed_orgs: set[str] = field(default_factory=set)
    """Organisations governance removed: what they hold stays on chain (members)."""
    models: set[str] = field(default_factory=set)
    """Model ids (models)."""
    versions: set[str] = field(default_factory=set)
    """Published versions as "model@version" (models)."""
    owners: dict[str, str] = field(default_factory=dict)
    """Each model's owner organisation, by model id (models)."""
    licenses: set[str] = field(default_factory=set)
    """Deployed license ids (licenses)."""
    accounts: dict[str, str] = field(default_factory=dict)
    """Each live account's organisation, by address (members)."""
    former_accounts: set[str] = field(default_factory=set)
    """Addresses whose account was deleted at some time, so that a record written before may
    name them under an organisation they no longer belong to: retired keys, and keys admitted
    again since (their nonce starts past the members' RETIRED_GAP) (members)."""
    revoked: set[str] = field(default_factory=set)
    """Revoked versions as "model@version" (models)."""
    unleasable: set[str] = field(default_factory=set)
    """Versions as "model@version" whose uses pay shares a lease would waive, never offered
    for rent (the market's ``not_leasable``): those naming parents or training datasets
    (models), and federated aggregates, which pay their contributors (federated)."""

    def check_org(self, org: Any, where: str) -> str:
        """``org`` if it names a member or a removed organisation; raises GenesisError."""
        if not isinstance(org, str) or (org not in self.orgs and org not in self.removed_orgs):
            shown = quote(org, 64) if isinstance(org, str) else "a non-string"
            raise GenesisError(where, f"{shown} is no organisation of the consortium")
        return org

    def check_version(self, model: str, version: str, where: str) -> None:
        """Raises GenesisError unless ``model@version`` is a published version."""
        if f"{model}@{version}" not in self.versions:
            raise GenesisError(where, f"no version {quote(f'{model}@{version}', 160)}")


class DomainGenesis(Protocol):
    """What the machine calls on each domain's genesis module, in genesis order."""

    SECTIONS: tuple[str, ...]
    """The keys of ``app_state`` the domain owns."""

    def default(self) -> dict[str, Any]: ...

    def validate(self, part: Mapping[str, Any], context: GenesisContext) -> Any: ...

    def init(self, state: Overlay, parsed: Any) -> None: ...

    def export(self, state: Reader) -> dict[str, Any]: ...


# --- readers of JSON fields ---------------------------------------------------------------------


def obj(raw: Any, where: str) -> Mapping[str, Any]:
    """``raw`` if it is a JSON object; raises GenesisError."""
    if not isinstance(raw, Mapping):
        raise GenesisError(where, "must be an object")
    return raw


def section(part: Mapping[str, Any], name: str, allowed: tuple[str, ...]) -> Mapping[str, Any]:
    """A domain's section ``name`` of ``part``: an object with only ``allowed`` keys (absent:
    empty)."""
    found = obj(part.get(name, {}), name)
    no_unknown(found, allowed, name)
    return found


def listed(parent: Mapping[str, Any], name: str, where: str) -> list[Any]:
    """The list ``parent[name]`` (absent: empty); raises GenesisError."""
    value = parent.get(name, [])
    if not isinstance(value, list):
        raise GenesisError(f"{where}.{name}", "must be a list")
    return value


def no_unknown(found: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    """Raises GenesisError for a key outside ``allowed``."""
    for key in found:
        if key not in allowed:
            raise GenesisError(f"{where}.{key}", f"unknown field (expected {', '.join(allowed)})")


def integer(
    parent: Mapping[str, Any], name: str, where: str, low: int = 0, high: int = MAX_U64
) -> int:
    """The integer ``parent[name]`` (absent: ``low``), ``low`` to ``high``; raises
    GenesisError (a bool or a float is no integer)."""
    value = parent.get(name, low)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise GenesisError(f"{where}.{name}", f"must be an integer from {low} to {high}")
    return value


def text(
    parent: Mapping[str, Any],
    name: str,
    where: str,
    pattern: re.Pattern[str] | None = None,
    expected: str = "",
    limit: int = MAX_TEXT,
) -> str:
    """The non-empty string ``parent[name]`` of at most ``limit`` UTF-8 bytes, matching
    ``pattern``; raises GenesisError."""
    value = parent.get(name)
    if not isinstance(value, str) or not value:
        raise GenesisError(f"{where}.{name}", "a non-empty string is required")
    check_size(value, f"{where}.{name}", limit)
    if pattern is not None and not pattern.fullmatch(value):
        raise GenesisError(f"{where}.{name}", f"{quote(value, 64)} is not valid: {expected}")
    return value


def check_size(value: str, where: str, limit: int = MAX_TEXT) -> None:
    """At most ``limit`` bytes of UTF-8: a lone surrogate (JSON's "\\ud800") is no text and
    could not be stored in a protobuf string."""
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise GenesisError(where, "not valid Unicode text (a lone surrogate)") from None
    if size > limit:
        raise GenesisError(where, f"longer than {limit} bytes")


def key_part(value: str, where: str) -> str:
    """A name that becomes part of a store key: non-empty, at most MAX_KEY_PART_BYTES of
    UTF-8, without NUL (the separator of compound keys); raises GenesisError."""
    if not value:
        raise GenesisError(where, "must not be empty")
    check_size(value, where, MAX_KEY_PART_BYTES)
    if "\x00" in value:
        raise GenesisError(where, "must not contain NUL")
    return value


def check_pattern(value: str, pattern: re.Pattern[str], where: str, expected: str) -> str:
    """``value`` if ``pattern`` matches all of it; raises GenesisError."""
    if not pattern.fullmatch(value):
        raise GenesisError(where, f"{quote(value, 80)} is not {expected}")
    return value


def hex_bytes(value: Any, where: str, sizes: tuple[int, ...]) -> bytes:
    """Lowercase hexadecimal of one of ``sizes`` bytes; raises GenesisError."""
    if not isinstance(value, str) or not re.fullmatch(r"\A(?:[0-9a-f]{2})*\Z", value):
        raise GenesisError(where, "must be lowercase hexadecimal")
    if len(value) // 2 not in sizes:
        raise GenesisError(where, f"must be {' or '.join(map(str, sizes))} bytes")
    return bytes.fromhex(value)


def record(
    raw: Any, kind: type[M], where: str, keys: tuple[str, ...] = ()
) -> tuple[M, dict[str, Any]]:
    """A protobuf record from its canonical JSON, and apart the ``keys`` stored beside it
    (fields of the entry that are not the message's, such as the manifest a file belongs to).

    Raises GenesisError naming the entry for anything json_format refuses: an unknown field,
    a value of the wrong type or out of its field's range, bad base64, nesting past its limit.
    """
    entry = dict(obj(raw, where))
    extra = {key: entry.pop(key) for key in keys if key in entry}
    _check_texts(entry, where)
    message = kind()
    try:
        json_format.ParseDict(entry, message)
    except (json_format.ParseError, ValueError, TypeError, RecursionError, SystemError) as exc:
        # upb reports a few refusals from C as SystemError; all of them are the input's fault
        raise GenesisError(where, f"not a {kind.DESCRIPTOR.name}: {_short(str(exc))}") from None
    return message, extra


def _check_texts(entry: Any, where: str) -> None:
    """Every string of a JSON value, keys included, is Unicode text (no lone surrogate, which
    no protobuf string can hold); walked without recursion, so any depth json took is fine."""
    pending = [entry]
    while pending:
        value = pending.pop()
        if isinstance(value, Mapping):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, str):
            check_size(value, where, limit=2**62)


def to_json(message: Message) -> dict[str, Any]:
    """A record's canonical protobuf JSON (the inverse of ``record``)."""
    found: dict[str, Any] = json_format.MessageToDict(message, preserving_proto_field_name=True)
    return found


def check_last_id(last: int, ids: list[int], where: str, what: str) -> None:
    """Ids are distinct, from 1 to ``last`` (the counter: the last id given); raises
    GenesisError naming the first that is not."""
    seen: set[int] = set()
    for i, given in enumerate(ids):
        if not 1 <= given <= last:
            raise GenesisError(f"{where}[{i}].id", f"{what} id {given} is not 1 to {last}")
        if given in seen:
            raise GenesisError(f"{where}[{i}].id", f"{what} id {given} appears twice")
        seen.add(given)


def _short(message: str) -> str:
    """json_format's message, on one line and bounded (it may quote the whole value)."""
    line = " ".join(message.split())
    return line if len(line) <= 200 else line[:200] + "..."
