"""The consortium in genesis ``app_state``: validated field by field before anything is written.

The same validation runs in ``modelgov genesis`` (before any node starts) and in InitChain, so a
malformed consortium is refused with the field and the reason instead of halting a chain.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.core.crypto import address_of, is_valid_pubkey
from app.core.names import ORG_ID
from app.core.text import quote
from app.members.keeper import DEFAULT_PARAMS, MembersKeeper
from app.members.params import PARAM_FIELDS, out_of_range
from app.members.roles import ALL_ROLES, ORG_KINDS
from app.pb.modelgov.v1 import state_pb2

ACCOUNT_NAME = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
ATTRIBUTE_KEY = re.compile(r"\A[a-z][a-z0-9_]{0,63}\Z")
MAX_TEXT = 256
MAX_ATTRIBUTES = 64
MIN_INT, MAX_INT = -(2**63), 2**63 - 1


class GenesisError(ValueError):
    """A consortium field is malformed; ``field`` names it like ``accounts[2].roles``."""

    field: str
    reason: str

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


@dataclass(frozen=True)
class Consortium:
    """A validated consortium, sorted, ready to be written or exported."""

    orgs: tuple[state_pb2.Org, ...]
    accounts: tuple[state_pb2.Account, ...]
    params: state_pb2.Params


SECTIONS = ("orgs", "accounts", "params")
"""The members domain's sections of genesis ``app_state``."""


def parse_members(app_state: Mapping[str, Any]) -> Consortium:
    """Validate the members sections of a decoded ``app_state`` (an object; the machine
    checks which sections there are); raises GenesisError naming the first bad field."""
    orgs = _parse_orgs(_list(app_state, "orgs", "app_state"))
    org_ids = {o.id for o in orgs}
    accounts = _parse_accounts(_list(app_state, "accounts", "app_state"), org_ids)
    params = _parse_params(app_state.get("params", {}))
    return Consortium(
        orgs=tuple(sorted(orgs, key=lambda o: o.id)),
        accounts=tuple(sorted(accounts, key=lambda a: a.address)),
        params=params,
    )


def init_genesis(keeper: MembersKeeper, consortium: Consortium) -> None:
    """Write a validated consortium into the state."""
    keeper.set_params(consortium.params)
    for org in consortium.orgs:
        keeper.set_org(org)
    for account in consortium.accounts:
        keeper.set_account(account)


def _parse_orgs(items: list[Any]) -> list[state_pb2.Org]:
    if not items:
        raise GenesisError("orgs", "a consortium needs at least one organisation")
    orgs: dict[str, state_pb2.Org] = {}
    for i, item in enumerate(items):
        where = f"orgs[{i}]"
        obj = _object(item, where)
        _no_unknown(obj, ("id", "name", "kind", "attributes"), where)
        org_id = _text(obj, "id", where, ORG_ID, "lowercase letters, digits and '-', 2-32 chars")
        if org_id in orgs:
            raise GenesisError(f"{where}.id", f"organisation {quote(org_id, 64)} appears twice")
        kind = _text(obj, "kind", where)
        if kind not in ORG_KINDS:
            raise GenesisError(
                f"{where}.kind", f"{quote(kind, 64)} is not one of {', '.join(ORG_KINDS)}"
            )
        orgs[org_id] = state_pb2.Org(
            id=org_id,
            name=_text(obj, "name", where),
            kind=kind,
            attributes=_parse_attributes(obj.get("attributes", {}), f"{where}.attributes"),
        )
    return list(orgs.values())


def _parse_attributes(raw: Any, where: str) -> list[state_pb2.Attribute]:
    attributes = []
    items = _object(raw, where)
    if len(items) > MAX_ATTRIBUTES:
        raise GenesisError(where, f"at most {MAX_ATTRIBUTES} attributes")
    for key, value in sorted(items.items()):
        if not isinstance(key, str) or not ATTRIBUTE_KEY.fullmatch(key):
            raise GenesisError(f"{where}.{key}", "attribute names are snake_case identifiers")
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise GenesisError(f"{where}.{key}", "an attribute is an integer or a string")
        if isinstance(value, int):
            if not MIN_INT <= value <= MAX_INT:
                raise GenesisError(f"{where}.{key}", "integer out of the signed 64-bit range")
            attributes.append(state_pb2.Attribute(key=key, int_value=value))
        else:
            _check_size(value, f"{where}.{key}")
            attributes.append(state_pb2.Attribute(key=key, text_value=value))
    return attributes


def _parse_accounts(items: list[Any], org_ids: set[str]) -> list[state_pb2.Account]:
    accounts: dict[str, state_pb2.Account] = {}
    names: set[str] = set()
    for i, item in enumerate(items):
        where = f"accounts[{i}]"
        obj = _object(item, where)
        _no_unknown(obj, ("name", "org", "pubkey", "roles"), where)
        name = _text(obj, "name", where, ACCOUNT_NAME, "letters, digits, '.', '_', '-'")
        if name in names:
            raise GenesisError(f"{where}.name", f"account name {quote(name, 64)} appears twice")
        names.add(name)
        org = _text(obj, "org", where)
        if org not in org_ids:
            raise GenesisError(f"{where}.org", f"no organisation {quote(org, 64)} in orgs")
        pubkey = _pubkey(_text(obj, "pubkey", where), f"{where}.pubkey")
        address = address_of(pubkey)
        if address in accounts:
            raise GenesisError(f"{where}.pubkey", "this public key belongs to another account")
        roles = _roles(obj.get("roles"), f"{where}.roles")
        accounts[address] = state_pb2.Account(
            address=address, pubkey=pubkey, org=org, roles=roles, nonce=0, name=name
        )
    return list(accounts.values())


def _pubkey(text: str, where: str) -> bytes:
    try:
        pubkey = bytes.fromhex(text)
    except ValueError:
        raise GenesisError(where, "not hexadecimal") from None
    if not is_valid_pubkey(pubkey):
        raise GenesisError(where, "not a 33-byte compressed secp256k1 public key")
    return pubkey


def _roles(raw: Any, where: str) -> list[str]:
    if not isinstance(raw, list) or not raw:
        raise GenesisError(where, f"a non-empty list of roles from {', '.join(ALL_ROLES)}")
    for role in raw:
        if not isinstance(role, str) or role not in ALL_ROLES:
            shown = quote(role, 64) if isinstance(role, str) else f"of type {type(role).__name__}"
            raise GenesisError(where, f"unknown role {shown} (allowed: {', '.join(ALL_ROLES)})")
    if len(set(raw)) != len(raw):
        raise GenesisError(where, "a role is listed twice")
    return sorted(raw)


def _parse_params(raw: Any) -> state_pb2.Params:
    """The defaults with the given parameters, each inside its range (app.members.params)."""
    obj = _object(raw, "params")
    _no_unknown(obj, PARAM_FIELDS, "params")
    params = state_pb2.Params()
    params.CopyFrom(DEFAULT_PARAMS)
    for name, value in sorted(obj.items()):
        reason = out_of_range(name, value)
        if reason is not None:
            raise GenesisError(f"params.{name}", reason)
        setattr(params, name, value)
    return params


def _object(raw: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise GenesisError(where, "must be an object")
    return raw


def _list(obj: Mapping[str, Any], name: str, where: str) -> list[Any]:
    value = obj.get(name)
    if not isinstance(value, list):
        raise GenesisError(f"{where}.{name}" if where != "app_state" else name, "must be a list")
    return value


def _text(
    obj: Mapping[str, Any],
    name: str,
    where: str,
    pattern: re.Pattern[str] | None = None,
    expected: str = "",
) -> str:
    value = obj.get(name)
    if not isinstance(value, str) or not value:
        raise GenesisError(f"{where}.{name}", "a non-empty string is required")
    _check_size(value, f"{where}.{name}")
    if pattern is not None and not pattern.fullmatch(value):
        raise GenesisError(f"{where}.{name}", f"{quote(value, 64)} is not valid: {expected}")
    return value


def _check_size(value: str, where: str) -> None:
    """At most MAX_TEXT bytes of UTF-8: a lone surrogate (JSON's "\\ud800") is no text and
    could not be stored in a protobuf string."""
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise GenesisError(where, "not valid Unicode text (a lone surrogate)") from None
    if size > MAX_TEXT:
        raise GenesisError(where, f"longer than {MAX_TEXT} bytes")


def _no_unknown(obj: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in obj:
        if key not in allowed:
            raise GenesisError(f"{where}.{key}", f"unknown field (expected {', '.join(allowed)})")
