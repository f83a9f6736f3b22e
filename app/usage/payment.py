"""Who is paid for a use, and how much: a version's fee goes to its model's owner, and an
aggregate version's fee to the round's contributors, pro rata to their sample counts.

Each contributor gets ``fee * samples // total``. The few credits that floor division leaves
(fewer than the number of contributors) go one each to the contributors in descending order of
sample count, then ascending org id. Every credit moves from the payer, none is made or burnt.
Any other version's fee goes to its owner, as before. A contributor that governance removed
from the consortium is paid nothing (it could never spend it): the contributors still members
share the fee as above, and the owner takes it when none is left. A fee is at most 2^63-1 and a
sample count at most 2^48 (validate_submit), so every product and share is a plain integer and every
share fits a balance.

Royalties (app.datasets.lineage) come first: for each upstream license that asked one, in walk
order (nearest first), the upstream owner gets ``fee * basis_points // 10_000`` (rounded down),
but never more than what is left of the fee, so the shares never add up past it. What is left
(the rounding included) is the licensor's part, paid to the owner or split among contributors
as above. Each royalty is listed as its own payee, with the upstream version it is owed for.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.core.errors import TxError
from app.credits import errors as credit_errors
from app.credits.keeper import CreditsKeeper
from app.datasets.lineage import Royalty
from app.federated.keeper import FederatedReader
from app.members.keeper import MembersReader
from app.pb.modelgov.v1 import federated_pb2, state_pb2
from app.state import Overlay


def split(fee: int, contributors: Sequence[federated_pb2.Contributor]) -> list[tuple[str, int]]:
    """(org, credits) for each contributor, in org order; the amounts sum to ``fee``.

    Raises ValueError for contributors without samples: finalize_round only records
    contributors with 1 to 2^48 samples each, so that is a broken invariant.
    """
    total = sum(c.sample_count for c in contributors)
    if total <= 0:
        raise ValueError("an aggregate's contributors hold no samples")
    shares = {c.org: fee * c.sample_count // total for c in contributors}
    remainder = fee - sum(shares.values())
    ranked = sorted(contributors, key=lambda c: (-c.sample_count, c.org))
    for contributor in ranked[:remainder]:
        shares[contributor.org] += 1
    return sorted(shares.items())


def payees(state: Overlay, owner: str, model: str, version: str, fee: int) -> list[tuple[str, int]]:
    """Who receives a use's fee: the contributors of an aggregate that are still members (an
    organisation governance removed could never spend its share), else the owner."""
    record = FederatedReader(state).contributors(model, version)
    members = MembersReader(state)
    present = [c for c in record.contributors if members.org(c.org) is not None] if record else []
    if not present:
        return [(owner, fee)]
    return split(fee, present)


BASIS = 10_000
"""Basis points in the whole fee."""


def royalty_shares(fee: int, royalties: Sequence[Royalty]) -> tuple[list[state_pb2.Payee], int]:
    """The royalty payees of a fee, in the order asked, and what is left for the licensor:
    each ``fee * basis_points // BASIS``, at most what is left."""
    left = fee
    shares = []
    for royalty in royalties:
        amount = min(fee * royalty.basis_points // BASIS, left)
        left -= amount
        shares.append(
            state_pb2.Payee(
                org=royalty.org,
                amount=amount,
                ref=royalty.ref,
                basis_points=royalty.basis_points,
            )
        )
    return shares, left


def pay_fee(
    state: Overlay,
    payer: str,
    owner: str,
    model: str,
    version: str,
    fee: int,
    royalties: Sequence[Royalty] = (),
) -> list[state_pb2.Payee]:
    """Move a use's fee from ``payer``: the licensor's part (to the owner, or the contributors
    in org order), then the royalties. Raises TxError(insufficient_credits) before any move."""
    upstream, left = royalty_shares(fee, royalties)
    licensor = [
        state_pb2.Payee(org=o, amount=a) for o, a in payees(state, owner, model, version, left)
    ]
    paid = licensor + upstream
    credits = CreditsKeeper(state)
    needed = sum(p.amount for p in paid if p.org != payer)
    if credits.balance(payer) < needed:
        have = credits.balance(payer)
        raise TxError(credit_errors.INSUFFICIENT, f"{payer} holds {have} credits, {needed} needed")
    for payee in paid:
        credits.move(payer, payee.org, payee.amount)
    return paid
