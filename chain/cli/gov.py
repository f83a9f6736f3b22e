"""``modelgov tx gov`` and the consortium's reads under ``modelgov query``: the consortium
governs itself.

``tx gov propose ...`` and ``tx gov vote`` change who is in the consortium, their roles, the
validators and the parameters; ``query org``, ``orgs``, ``account``, ``accounts``, ``params``,
``validators``, ``proposal``, ``proposals`` and ``votes`` read them.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import click

from app.core.valuemap import from_data
from app.members.params import RANGES
from app.members.roles import ALL_ROLES, ORG_KINDS
from app.pb.modelgov.v1 import state_pb2, tx_pb2
from chain.cli.options import ACCOUNT, INT64_DIGITS, Send, list_options, pubkey_of, reads, signed
from chain.cli.output import emit, emit_list, record
from chain.cli.root import query, tx
from chain.client import Node

ROLES = click.Choice(ALL_ROLES)
VOTE_PREFIX = "VOTE_OPTION_"
VOTE_OPTIONS = click.Choice(
    [
        name.removeprefix(VOTE_PREFIX).lower()
        for name, number in tx_pb2.VoteOption.items()
        if number != 0
    ]
)
TEXT = click.option("--title", required=True, help="what the proposal does, in a line")
DESCRIPTION = click.option("--description", default="", help="why, for the other members")


@tx.group("gov")
def gov_tx() -> None:
    """Propose changes to the consortium and vote on them (admins, one vote per org)."""


@gov_tx.group()
def propose() -> None:
    """Submit a proposal; it passes by the members' votes and executes in that block."""


def _submit(send: Send, action: tx_pb2.ProposalAction, title: str, description: str) -> None:
    send(
        tx_pb2.Msg(
            submit_proposal=tx_pb2.SubmitProposal(
                action=action, title=title, description=description
            )
        )
    )


def _account(spec: str) -> tx_pb2.AccountSpec:
    """NAME:PUBKEY:ROLE[,ROLE...], PUBKEY 66 hex or the name of a key in the keyring, each
    role one the app knows."""
    try:
        name, pubkey, roles = spec.split(":")
    except ValueError:
        raise click.BadParameter(f"{spec!r} is not NAME:PUBKEY:ROLE[,ROLE]") from None
    found = tx_pb2.AccountSpec(name=name, pubkey=pubkey_of(pubkey), roles=roles.split(","))
    unknown = [r for r in found.roles if r not in ALL_ROLES]
    if unknown:
        raise click.BadParameter(f"{unknown[0]!r} is not one of {', '.join(ALL_ROLES)}")
    return found


def _attributes(pairs: tuple[str, ...]) -> dict[str, Any]:
    """KEY=VALUE pairs: a decimal integer (ASCII digits) stays an integer, and must fit the
    chain's signed 64 bits; anything else is text."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--attr")
        digits = value.removeprefix("-")
        if not (digits.isascii() and digits.isdigit()):
            out[key] = value
        elif len(digits) > INT64_DIGITS or not -(2**63) <= int(value) < 2**63:
            raise click.BadParameter(f"{key}: past a signed 64-bit integer", param_hint="--attr")
        else:
            out[key] = int(value)
    return out


@propose.command("add-org")
@click.option("--id", "org_id", required=True)
@click.option("--name", required=True)
@click.option("--kind", required=True, type=click.Choice(ORG_KINDS))
@click.option("--attr", "attrs", multiple=True, help="KEY=VALUE (integers stay integers)")
@click.option("--account", "accounts", multiple=True, help="NAME:PUBKEY_HEX:ROLE[,ROLE]")
@TEXT
@DESCRIPTION
@signed
def add_org(
    org_id: str,
    name: str,
    kind: str,
    attrs: tuple[str, ...],
    accounts: tuple[str, ...],
    title: str,
    description: str,
    send: Send,
) -> None:
    """Admit an organisation with its accounts."""
    action = tx_pb2.AddOrg(
        id=org_id,
        name=name,
        kind=kind,
        attributes=from_data(_attributes(attrs)),
        accounts=[_account(a) for a in accounts],
    )
    _submit(send, tx_pb2.ProposalAction(add_org=action), title, description)


@propose.command("remove-org")
@click.argument("org")
@TEXT
@DESCRIPTION
@signed
def remove_org(org: str, title: str, description: str, send: Send) -> None:
    """Remove an organisation: its accounts can no longer send, its open votes stop counting."""
    _submit(send, tx_pb2.ProposalAction(remove_org=tx_pb2.RemoveOrg(org=org)), title, description)


@propose.command("set-roles")
@click.argument("address", type=ACCOUNT)
@click.option("--role", "roles", multiple=True, required=True, type=ROLES)
@TEXT
@DESCRIPTION
@signed
def set_roles(
    address: str, roles: tuple[str, ...], title: str, description: str, send: Send
) -> None:
    """Replace an account's roles."""
    action = tx_pb2.SetRoles(address=address, roles=list(roles))
    _submit(send, tx_pb2.ProposalAction(set_roles=action), title, description)


@propose.command("add-account")
@click.argument("org")
@click.argument("spec", metavar="NAME:PUBKEY_HEX|KEY:ROLE[,ROLE]")
@TEXT
@DESCRIPTION
@signed
def add_account(org: str, spec: str, title: str, description: str, send: Send) -> None:
    """Add an account to an organisation."""
    action = tx_pb2.AddAccount(org=org, account=_account(spec))
    _submit(send, tx_pb2.ProposalAction(add_account=action), title, description)


@propose.command("revoke-account")
@click.argument("address", type=ACCOUNT)
@TEXT
@DESCRIPTION
@signed
def revoke_account(address: str, title: str, description: str, send: Send) -> None:
    """Revoke an account: its key can no longer send anything."""
    action = tx_pb2.RevokeAccount(address=address)
    _submit(send, tx_pb2.ProposalAction(revoke_account=action), title, description)


def validator_pubkey(key_file: Path | None, pubkey: str) -> bytes:
    """The ed25519 key from a priv_validator_key.json (or --pubkey, base64 as CometBFT prints)."""
    if key_file is not None:
        pubkey = json.loads(key_file.read_text())["pub_key"]["value"]
    if not pubkey:
        raise click.UsageError("give --key-file or --pubkey")
    return base64.b64decode(pubkey)


@propose.command("set-validator")
@click.option(
    "--key-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="the node's priv_validator_key.json (only its public key is read)",
)
@click.option("--pubkey", default="", help="ed25519 public key, base64")
@click.option("--power", required=True, type=click.IntRange(0), help="0 removes the validator")
@click.option("--name", default="")
@TEXT
@DESCRIPTION
@signed
def set_validator(
    key_file: Path | None,
    pubkey: str,
    power: int,
    name: str,
    title: str,
    description: str,
    send: Send,
) -> None:
    """Add a validator, change its power, or remove it (power 0)."""
    action = tx_pb2.SetValidator(pubkey=validator_pubkey(key_file, pubkey), power=power, name=name)
    _submit(send, tx_pb2.ProposalAction(set_validator=action), title, description)


@propose.command("set-params")
@click.argument("changes", nargs=-1, required=True, metavar="NAME=VALUE...")
@TEXT
@DESCRIPTION
@signed
def set_params(changes: tuple[str, ...], title: str, description: str, send: Send) -> None:
    """Change consortium parameters (thresholds, periods, gas and size limits; `modelgov
    query params` shows them)."""
    parsed = [_param_change(change) for change in changes]
    action = tx_pb2.SetParams(changes=parsed)
    _submit(send, tx_pb2.ProposalAction(set_params=action), title, description)


def _param_change(change: str) -> tx_pb2.ParamChange:
    """NAME=VALUE for a parameter the app knows, within the range it allows (what the proposal's
    check would refuse is a usage error here)."""
    name, _, value = change.partition("=")
    if name not in RANGES:
        raise click.BadParameter(f"{name!r} is not one of {', '.join(RANGES)}")
    bounds = RANGES[name]
    if not (value.isascii() and value.isdigit()) or len(value) > INT64_DIGITS:
        raise click.BadParameter(f"{change!r} is not NAME=POSITIVE_INTEGER")
    if not bounds.low <= int(value) <= bounds.high:
        raise click.BadParameter(f"{name} is {bounds.low} to {bounds.high}")
    return tx_pb2.ParamChange(name=name, value=int(value))


@gov_tx.command("vote")
@click.argument("proposal_id", type=click.IntRange(1))
@click.argument("option", type=VOTE_OPTIONS)
@signed
def vote(proposal_id: int, option: str, send: Send) -> None:
    """Vote for your organisation; a later vote replaces an earlier one."""
    value = tx_pb2.VoteOption.Value(VOTE_PREFIX + option.upper())
    send(tx_pb2.Msg(cast_vote=tx_pb2.CastVote(proposal_id=proposal_id, option=value)))


def _proposal_view(found: state_pb2.Proposal) -> dict[str, Any]:
    data = record(found)
    data["status"] = data["status"].removeprefix("PROPOSAL_STATUS_").lower()
    data["action"] = found.action.WhichOneof("kind")
    return data


# --- modelgov query: the consortium ---------------------------------------------------------


@query.command("proposal")
@click.argument("proposal_id", type=click.IntRange(1))
@reads
def proposal(proposal_id: int, client: Node, output: str) -> None:
    """Show a proposal, its status and tally (the live tally while voting)."""
    found = client.proposal(proposal_id)
    data = _proposal_view(found)
    if found.status == state_pb2.PROPOSAL_STATUS_VOTING:
        data["tally"] = record(client.votes(proposal_id))
    emit(output, data)


@query.command("proposals")
@list_options
@reads
def proposals(after: str, limit: int, client: Node, output: str) -> None:
    """List proposals with their status."""
    items, nxt = client.proposals().take(limit, after)
    columns = ["id", "status", "action", "title", "decided_height"]
    emit_list(output, "proposals", [_proposal_view(p) for p in items], nxt, columns)


@query.command("votes")
@click.argument("proposal_id", type=click.IntRange(1))
@reads
def votes(proposal_id: int, client: Node, output: str) -> None:
    """A proposal's tally now, counting the votes of current members only."""
    emit(output, {"proposal": proposal_id, **record(client.votes(proposal_id))})


@query.command("org")
@click.argument("org_id", metavar="ORG")
@reads
def org(org_id: str, client: Node, output: str) -> None:
    """Show an organisation: its name, kind and attributes."""
    emit(output, record(client.org(org_id)))


@query.command("orgs")
@list_options
@reads
def orgs(after: str, limit: int, client: Node, output: str) -> None:
    """List the consortium's organisations."""
    items, nxt = client.orgs().take(limit, after)
    emit_list(output, "orgs", [record(o) for o in items], nxt, ["id", "kind", "name"])


@query.command("account")
@click.argument("address", type=ACCOUNT)
@reads
def account(address: str, client: Node, output: str) -> None:
    """Show an account: its organisation, roles and next nonce."""
    emit(output, record(client.account(address)))


@query.command("accounts")
@click.argument("org_id", metavar="ORG")
@list_options
@reads
def accounts(org_id: str, after: str, limit: int, client: Node, output: str) -> None:
    """List an organisation's accounts in address order."""
    items, nxt = client.accounts(org_id).take(limit, after)
    columns = ["address", "name", "roles", "nonce"]
    emit_list(output, "accounts", [record(a) for a in items], nxt, columns)


@query.command("params")
@reads
def params(client: Node, output: str) -> None:
    """Show the consortium's parameters (limits every validator enforces)."""
    emit(output, record(client.params()))


@query.command("validators")
@list_options
@reads
def validators(after: str, limit: int, client: Node, output: str) -> None:
    """List the validator set as governance last set it (ed25519 keys in base64, as the
    engine prints them)."""
    items, nxt = client.validators().take(limit, after)
    rows = [{**record(v), "pubkey": base64.b64encode(v.pubkey).decode()} for v in items]
    emit_list(output, "validators", rows, nxt, ["pubkey", "power", "name"])
