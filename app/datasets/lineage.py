"""Terms that follow lineage: what a derivative owes the licenses of what it came from.

A version's upstream is every version it derives from: its parents and the dataset versions it
was trained on, and theirs, breadth first (nearest first; at each step a version's parents in
the order it lists them, then its datasets), each once. The walk stops at MAX_DEPTH steps and
MAX_UPSTREAM versions; a publication whose upstream would pass either bound is refused
(``lineage_too_large``), so every version published since has its whole upstream inside them.
Versions the check did not see whole are asked as far as the bounds reach, the same on every
node: those recorded before it, and a federated aggregate (its round checked the base when it
opened; the aggregate lists the base first, then the updates, so the base's terms are asked
first).

Two rules use it (this module is the datasets domain's public surface for them):

- publishing a derivative (``check_inputs``, from the models' publish): each direct input the
  publisher's organisation does not own needs its receipt of an allowed ``fine-tune`` (a
  parent) or ``training`` (a dataset) use, and each direct input's license that defines
  ``derive(ctx)`` must allow the derivative. A receipt licenses one derivative model: the first
  publication (or federated round) it licenses binds it to that model (``bind_receipts``), whose
  later versions (a round's update and aggregate included) may name it again; any other model
  needs a receipt of its own (``receipt_spent``). A use licenses what was made of it, not
  every model its buyer will ever publish. A license attached to a derivative later is asked
  of the same ``derive(ctx)`` rules (``check_attach``, from the licenses' attach);
- using a derivative (``ask_upstream``, from the usage decision): every upstream version's
  license must allow the use asked on the derivative's behalf (``ctx.derivative`` set), and
  each that defines ``royalty(ctx)`` names its share of the fee in basis points.

The terms asked are those each input carried into its derivative when the derivative was
published: a publication pins on the new version (``Version.input_terms``) the attachment that
governed each direct input then (its sequence number in the input's attachment history, which
is append-only, so the pinned one stays a point read), and the walk asks each upstream version
under the pin of the edge it reaches it by first (nearest first, in listed order). An owner who
attaches another license to an input later changes nothing for derivatives published before:
neither the fee shares nor the allowed uses of what was built on the earlier terms. An input
that had no license when the derivative was published is pinned as such and never asked for
that derivative or what derives from it through it, even once its owner attaches one (its
later derivatives carry that license). There is no revocation of a license or an attachment
(a deployed license is immutable, attachments are appended): a pinned attachment is always
there, and a pin that names none (only a hand-written genesis could) refuses the use
(``upstream_failed``) rather than ask other terms. A revoked upstream version still binds its
derivatives under its pinned terms: revoking stops its own uses, not those of what was built
on it. A version recorded before pinning (an older genesis) asks the attachment in force.
A federated round pins its base's attachment when it opens (``Round.base_terms``); its update
and aggregate versions carry that pin for the base.

An upstream version without a license, or whose owner is no longer a member, has no terms to
ask and no one to pay. An upstream ``allow``'s fee is ignored: upstream owners are paid by
``royalty``. Every script run pays its gas into the transaction's meter (and each license its
first load in the block); all runs of one check share LINEAGE_GAS_FACTOR times the license gas
limit (first loads of their licenses in the block included), past which the check refuses
with ``upstream_out_of_gas``. What a check pays thus depends on the state before its
transaction and on the block's earlier transactions (which licenses they loaded), never on a
node's process: ``finalize_block`` starts each block with nothing loaded, and a program from the
cache runs and costs as one checked again, so a restarted validator computes the same gas and
answers (tests/app/datasets/test_lineage_gas.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.core.errors import TxError
from app.core.gas import LOAD_GAS_PER_BYTE, GasMeter
from app.core.text import quote
from app.datasets import errors
from app.datasets.keeper import DatasetsKeeper, DatasetsReader
from app.licenses.keeper import LicensesReader, license_parameters
from app.licenses.lang import (
    Limits,
    OutOfGas,
    Prepared,
    Program,
    ScriptError,
    ScriptRuntimeError,
    run_decision,
    run_royalty,
)
from app.members.keeper import MembersReader
from app.models import errors as model_errors
from app.models.keeper import DATASET, ModelsReader, split_ref, version_ref
from app.pb.modelgov.v1 import state_pb2, tx_pb2
from app.state import Overlay, Reader
from app.usage.keeper import DEFAULT_PERIOD_SECONDS, UsageReader

MAX_DEPTH = 8
"""The lineage depth limit: how many derivation steps upstream terms follow."""
MAX_UPSTREAM = 32
"""Most upstream versions one check asks."""
WALK_GAS = 100
"""Reading one upstream version and its license attachment."""
LINEAGE_GAS_FACTOR = 4
"""All upstream script runs of one check share this many times ``license_gas_limit``."""
MAX_SHOWN = 256
FINE_TUNE = "fine-tune"
TRAINING = "training"
PARENT = "parent"
TRAINED_ON = "trained_on"


@dataclass(frozen=True)
class Upstream:
    """One version a derivative comes from, ``depth`` steps up; ``relation`` is how its
    nearest descendant on the walk names it (PARENT or TRAINED_ON), and ``pin`` the terms that
    descendant pinned on it (None: recorded before pinning, the attachment in force governs)."""

    ref: str
    depth: int
    relation: str
    pin: state_pb2.InputTerms | None = None


@dataclass(frozen=True)
class Royalty:
    """What an upstream license's ``royalty(ctx)`` asked: ``basis_points`` of the fee for
    ``org``, the owner of ``ref``."""

    org: str
    ref: str
    basis_points: int


@dataclass(frozen=True)
class UpstreamAnswer:
    """The upstream licenses' answer on one use: a deny reason ("" when all allow), the gas
    their runs used, and the royalties they ask (in walk order)."""

    denied: str
    gas_used: int
    royalties: tuple[Royalty, ...]


def asset_kind(model: state_pb2.Model | None) -> str:
    """What ``ctx.asset`` says: "dataset" or "model"."""
    return DATASET if model is not None and model.kind == DATASET else "model"


Inputs = tuple[Sequence[str], Sequence[str], dict[str, state_pb2.InputTerms]]
"""A version's direct inputs on the walk: parents, trained_on, and their pins by ref."""


def pins_by_ref(terms: Sequence[state_pb2.InputTerms]) -> dict[str, state_pb2.InputTerms]:
    """A version's pinned input terms by input ref (a ref listed twice: its first pin)."""
    found: dict[str, state_pb2.InputTerms] = {}
    for pin in terms:
        found.setdefault(pin.ref, pin)
    return found


def upstream(
    reader: ModelsReader,
    parents: Sequence[str],
    trained_on: Sequence[str],
    start: str,
    pins: Sequence[state_pb2.InputTerms] = (),
) -> tuple[list[Upstream], bool]:
    """The upstream of a version ``start`` with these direct inputs (and their ``pins``), and
    whether the walk stopped at a bound (MAX_DEPTH, MAX_UPSTREAM) with more to follow."""
    seen = {start}
    found: list[Upstream] = []
    frontier: list[Inputs] = [(parents, trained_on, pins_by_ref(pins))]
    for depth in range(1, MAX_DEPTH + 2):
        following: list[Inputs] = []
        for ups, data, pinned in frontier:
            named = [(ref, PARENT) for ref in ups] + [(ref, TRAINED_ON) for ref in data]
            for ref, relation in named:
                if ref in seen:
                    continue
                if depth > MAX_DEPTH or len(found) == MAX_UPSTREAM:
                    return found, True
                seen.add(ref)
                found.append(Upstream(ref, depth, relation, pinned.get(ref)))
                record = reader.version(*split_ref(ref))
                if record is not None:
                    inputs = (record.parents, record.trained_on, pins_by_ref(record.input_terms))
                    following.append(inputs)
        frontier = following
    return found, False


def pin_inputs(state: Reader, refs: Sequence[str]) -> list[state_pb2.InputTerms]:
    """The terms each direct input (``refs``: parents, then trained_on) carries into a version
    published now: the attachment in force on it, or none; each ref once."""
    licenses = LicensesReader(state)
    pins: list[state_pb2.InputTerms] = []
    for ref in dict.fromkeys(refs):
        attachment = licenses.current(*split_ref(ref))
        if attachment is None:
            pins.append(state_pb2.InputTerms(ref=ref))
            continue
        pin = state_pb2.InputTerms(
            ref=ref,
            licensed=True,
            seq=attachment.seq,
            license=attachment.license,
            code_hash=attachment.code_hash,
        )
        pins.append(pin)
    return pins


def pinned_attachment(
    licenses: LicensesReader, ref: str, pin: state_pb2.InputTerms | None
) -> state_pb2.Attachment | None:
    """The attachment whose terms a derivative owes its input ``ref``: the pinned one; none
    when the input had no license then; the one in force for a derivative recorded before
    pinning. Raises TxError(upstream_failed) when the pinned one is not in the state."""
    model_id, version = split_ref(ref)
    if pin is None:
        return licenses.current(model_id, version)
    if not pin.licensed:
        return None
    found = licenses.attachment(model_id, version, pin.seq)
    if found is None or found.license != pin.license:
        shown = quote(pin.license, 80)
        raise TxError(
            errors.UPSTREAM_FAILED, f"{ref}: its pinned attachment {pin.seq} ({shown}) is missing"
        )
    return found


def script_context(
    state: Reader,
    account: state_pb2.Account,
    target: tuple[str, str, str],
    purpose: str,
    quantity: int,
    params: Prepared,
    clock: tuple[int, int],
    period_seconds: int,
    derivative: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``ctx`` a license script reads about ``target`` (model, version, owner), documented in
    app/licenses/lang/context.py; ``clock`` is (height, time)."""
    model, version, owner = target
    height, time = clock
    org = MembersReader(state).org(account.org)
    attributes = {
        a.key: getattr(a, a.WhichOneof("value") or "text_value")
        for a in (org.attributes if org is not None else [])
    }
    usage = UsageReader(state).usage(account.org, model, version, time, period_seconds)
    return {
        "caller": {
            "address": account.address,
            "org": account.org,
            "org_kind": org.kind if org is not None else "",
            "roles": list(account.roles),
            "attributes": attributes,
        },
        "asset": asset_kind(ModelsReader(state).model(model)),
        "model": model,
        "version": version,
        "owner": owner,
        "purpose": purpose,
        "quantity": quantity,
        "height": height,
        "time": time,
        "usage": {
            "version_total": usage.version_total,
            "model_total": usage.model_total,
            "version_period": usage.version_period,
            "model_period": usage.model_period,
            "period_seconds": usage.period_seconds,
            "period_start": usage.period_start,
        },
        "params": params,
        "derivative": derivative,
    }


def license_params(found: state_pb2.License) -> tuple[Prepared, int]:
    """A license's deploy-time parameters (as ``ctx.params`` takes them: decoded and converted
    once, app.licenses.programs) and the usage period they set (or the default)."""
    params = license_parameters(found)
    period = params.data.get("period_seconds")
    return params, period if type(period) is int and period > 0 else DEFAULT_PERIOD_SECONDS


@dataclass
class _Asker:
    """Runs upstream scripts for one check, within its shared gas budget."""

    state: Reader
    account: state_pb2.Account
    clock: tuple[int, int]
    meter: GasMeter | None
    budget: int
    spent: int = 0

    def terms(self, up: Upstream) -> tuple[state_pb2.License, str] | None:
        """The license ``up`` is pinned to (``pinned_attachment``) and its owner, or None when
        there are no terms to ask (no license, or an owner that is no longer a member).
        Raises TxError(upstream_failed) when a pinned attachment is missing."""
        licenses = LicensesReader(self.state)
        attachment = pinned_attachment(licenses, up.ref, up.pin)
        found = licenses.license(attachment.license) if attachment is not None else None
        model = ModelsReader(self.state).model(split_ref(up.ref)[0])
        if found is None or model is None:
            return None
        if MembersReader(self.state).org(model.owner_org) is None:
            return None
        return found, model.owner_org

    def program(self, found: state_pb2.License) -> tuple[Program, Limits]:
        """The license's program. Its first load in the block is paid from the check's budget
        (checking a script again is the costliest step: up to 16 KiB of source each), so a
        lineage of large licenses stops before it is loaded. Raises TxError."""
        if self.meter is not None and found.id not in self.meter.loaded:
            cost = LOAD_GAS_PER_BYTE * len(found.source.encode())
            if self.spent + cost > self.budget:
                raise TxError(
                    errors.UPSTREAM_OUT_OF_GAS,
                    f"loading {found.id} would pass the lineage check's {self.budget} gas",
                )
            self.charge(cost)
            self.meter.loaded.add(found.id)
        params = MembersReader(self.state).params()
        try:
            pin = self.meter is not None and self.meter.pins
            return LicensesReader(self.state).runnable(found, params, pin)
        except ScriptError as exc:
            raise TxError(errors.UPSTREAM_FAILED, f"{found.id}: no longer checks: {exc}") from None

    def context(
        self,
        ref: str,
        owner: str,
        found: state_pb2.License,
        purpose: str,
        quantity: int,
        derivative: dict[str, Any],
    ) -> dict[str, Any]:
        """The upstream ``ctx`` for one run on ``ref``."""
        params, period = license_params(found)
        model_id, version = split_ref(ref)
        return script_context(
            self.state,
            self.account,
            (model_id, version, owner),
            purpose,
            quantity,
            params,
            self.clock,
            period,
            derivative,
        )

    def decide(
        self, run: tuple[Program, Limits], name: str, ctx: dict[str, Any], lic: str
    ) -> tuple[bool, str]:
        """Run ``name`` (authorize or derive): (allowed, reason). Raises TxError."""
        program, limits = run
        try:
            outcome = run_decision(program, name, ctx, limits, self._left(limits))
        except (ScriptRuntimeError, TypeError, ValueError) as exc:
            raise self._failed(exc, lic) from None
        self.charge(outcome.gas_used)
        return outcome.decision.allowed, outcome.decision.reason

    def royalty(self, run: tuple[Program, Limits], ctx: dict[str, Any], lic: str) -> int:
        """Run ``royalty(ctx)``: basis points 0..10,000. Raises TxError."""
        program, limits = run
        try:
            points, gas = run_royalty(program, ctx, limits, self._left(limits))
        except (ScriptRuntimeError, TypeError, ValueError) as exc:
            raise self._failed(exc, lic) from None
        self.charge(gas)
        return points

    def _left(self, limits: Limits) -> int:
        """The gas the next run may use: what is left of the budget, at most the license's
        own limit (the interpreter applies the smaller). Raises TxError when none is left."""
        left = self.budget - self.spent
        if left <= 0:
            raise TxError(errors.UPSTREAM_OUT_OF_GAS, f"the lineage check used {self.spent} gas")
        return min(left, limits.gas_limit)

    def _failed(self, exc: Exception, lic: str) -> TxError:
        """A failed run as a refusal; a script's failure pays the gas it used."""
        if not isinstance(exc, ScriptRuntimeError):  # the context does not fit the limits
            return TxError(errors.UPSTREAM_FAILED, f"{lic}: context refused: {exc}")
        self.charge(exc.gas_used)
        if isinstance(exc, OutOfGas):
            return TxError(errors.UPSTREAM_OUT_OF_GAS, f"{lic}: {exc}")
        return TxError(errors.UPSTREAM_FAILED, f"{lic}: {exc}")

    def charge(self, gas: int) -> None:
        """Count ``gas`` against the check's budget and the transaction's meter."""
        self.spent += gas
        if self.meter is not None:
            self.meter.consume(gas)


def _asker(
    state: Reader, account: state_pb2.Account, clock: tuple[int, int], meter: GasMeter | None
) -> _Asker:
    budget = LINEAGE_GAS_FACTOR * MembersReader(state).params().license_gas_limit
    return _Asker(state, account, clock, meter, budget)


def ask_upstream(
    state: Reader,
    account: state_pb2.Account,
    used: state_pb2.Version,
    purpose: str,
    quantity: int,
    clock: tuple[int, int],
    meter: GasMeter | None = None,
) -> UpstreamAnswer:
    """Ask every upstream license of the version ``used`` about a use by ``account``, on the
    derivative's behalf: the first deny wins; royalties in walk order. Raises TxError when a
    script fails or the check runs out of its gas."""
    reader = ModelsReader(state)
    ref = version_ref(used.model, used.version)
    found, _ = upstream(reader, used.parents, used.trained_on, ref, used.input_terms)
    asker = _asker(state, account, clock, meter)
    model = reader.model(used.model)
    attached = LicensesReader(state).current(used.model, used.version)
    royalties: list[Royalty] = []
    for up in found:
        asker.charge(WALK_GAS)
        terms = asker.terms(up)
        if terms is None:
            continue
        lic, owner = terms
        derivative = {
            "model": used.model,
            "version": used.version,
            "owner": model.owner_org if model is not None else "",
            "asset": asset_kind(model),
            "license": attached.license if attached is not None else "",
            "relation": up.relation,
            "depth": up.depth,
        }
        run = asker.program(lic)
        ctx = asker.context(up.ref, owner, lic, purpose, quantity, derivative)
        allowed, reason = asker.decide(run, "authorize", ctx, lic.id)
        if not allowed:
            shown = quote(reason, MAX_SHOWN)
            return UpstreamAnswer(f"upstream {up.ref} ({lic.id}): {shown}", asker.spent, ())
        if "royalty" in run[0].functions:
            points = asker.royalty(run, ctx, lic.id)
            if points and owner != account.org:  # never owed to the caller itself
                royalties.append(Royalty(owner, up.ref, points))
    return UpstreamAnswer("", asker.spent, tuple(royalties))


@dataclass(frozen=True)
class Derivative:
    """A version about to be published, as its inputs' licenses see it."""

    model: str
    version: str
    owner: str
    license: str
    parents: Sequence[str]
    trained_on: Sequence[str]
    receipts: Sequence[int]
    receipt_terms: bool = False
    """Refuse an input whose license is not the one its licensing receipt was taken under."""


def check_inputs(
    state: Reader,
    account: state_pb2.Account,
    child: Derivative,
    clock: tuple[int, int],
    meter: GasMeter | None = None,
) -> list[state_pb2.InputTerms]:
    """May ``account``'s organisation publish ``child``? Each trained_on is a live dataset
    version; each direct input another org owns is licensed by one of ``child.receipts``; the
    upstream is within the bounds; each direct input's ``derive(ctx)`` allows it; with
    ``child.receipt_terms``, each input licensed by a receipt carries the license the receipt
    was taken under. The terms
    the inputs carry into ``child`` (``pin_inputs``, with the receipt that licensed each), to
    record on it and to ``bind_receipts`` with. Raises TxError (models: not_dataset,
    unlicensed_input, derive_refused; datasets: lineage_too_large, upstream_failed,
    upstream_out_of_gas, receipt_spent, terms_changed)."""
    reader = ModelsReader(state)
    for ref in child.trained_on:
        _check_dataset(reader, ref)
    check_live_parents(state, account.org, child.parents)
    licensed = _licensed(state, account.org, child.receipts)
    inputs = [(r, PARENT, FINE_TUNE) for r in child.parents]
    inputs += [(r, TRAINED_ON, TRAINING) for r in child.trained_on]
    receipts: dict[str, int] = {}
    for ref, _, purpose in inputs:
        receipt = _licensing_receipt(state, ref, purpose, (account.org, child.model), licensed)
        receipts.setdefault(ref, receipt)
    start = version_ref(child.model, child.version)
    pins = pin_inputs(state, [*child.parents, *child.trained_on])
    for pin in pins:
        pin.receipt = receipts[pin.ref]
        if child.receipt_terms:
            _check_receipt_terms(state, pin)
    _, cut = upstream(reader, child.parents, child.trained_on, start, pins)
    if cut:
        raise TxError(
            errors.LINEAGE_TOO_LARGE,
            f"{start} would have more than {MAX_UPSTREAM} upstream versions or a lineage "
            f"deeper than {MAX_DEPTH}",
        )
    asker = _asker(state, account, clock, meter)
    pinned = pins_by_ref(pins)
    for ref, relation, purpose in inputs:
        _derive(asker, Upstream(ref, 1, relation, pinned[ref]), purpose, child)
    return pins


def check_attach(
    state: Reader,
    account: state_pb2.Account,
    version: state_pb2.Version,
    license_id: str,
    clock: tuple[int, int],
    meter: GasMeter | None = None,
) -> None:
    """May ``license_id`` govern the derivative ``version`` from now on? Each direct input's
    ``derive(ctx)``, under the terms ``version`` pinned on it, is asked again with
    ``license_id`` as ``ctx.derivative.license``, as at the publication: else an owner could
    publish under the license an input requires, then attach another. Raises TxError
    (models: derive_refused; datasets: upstream_failed, upstream_out_of_gas)."""
    child = Derivative(
        model=version.model,
        version=version.version,
        owner=account.org,
        license=license_id,
        parents=version.parents,
        trained_on=version.trained_on,
        receipts=(),
    )
    pinned = pins_by_ref(version.input_terms)
    asker = _asker(state, account, clock, meter)
    inputs = [(r, PARENT, FINE_TUNE) for r in version.parents]
    inputs += [(r, TRAINED_ON, TRAINING) for r in version.trained_on]
    for ref, relation, purpose in inputs:
        _derive(asker, Upstream(ref, 1, relation, pinned.get(ref)), purpose, child)


def bind_receipts(state: Overlay, model_id: str, pins: Sequence[state_pb2.InputTerms]) -> None:
    """Bind each receipt that licensed an input of a version of ``model_id`` (``pins`` from
    ``check_inputs``) to that model: it licenses no other."""
    keeper = DatasetsKeeper(state)
    for pin in pins:
        if pin.receipt:
            keeper.bind(pin.receipt, model_id)


def check_live_parents(state: Reader, org: str, parents: Sequence[str]) -> None:
    """No parent another organisation owns is revoked: revoking a version stops what is newly
    made of it (a publication, a round's update or aggregate), as it stops its uses, whatever
    receipt was taken before; derivatives published earlier keep their pinned terms. A revoked
    version of ``org``'s own may still be a parent (a fix of it). Raises
    TxError(unlicensed_input)."""
    reader = ModelsReader(state)
    for ref in parents:
        model_id, version = split_ref(ref)
        record = reader.version(model_id, version)
        if record is None or record.status != tx_pb2.VERSION_STATUS_REVOKED:
            continue
        model = reader.model(model_id)
        if model is not None and model.owner_org != org:
            raise TxError(
                model_errors.UNLICENSED_INPUT,
                f"{ref} was revoked by {model.owner_org}: no receipt licenses a new derivative "
                f"of it ({quote(record.status_reason, 80)})",
            )


def _check_dataset(reader: ModelsReader, ref: str) -> None:
    """``ref`` is a live version of a dataset; raises TxError(not_dataset)."""
    model_id, version = split_ref(ref)
    model = reader.model(model_id)
    record = reader.version(model_id, version)
    if model is None or model.kind != DATASET or record is None:
        raise TxError(model_errors.NOT_DATASET, f"trained_on {ref}: no such dataset version")
    if record.status == tx_pb2.VERSION_STATUS_REVOKED:
        raise TxError(model_errors.NOT_DATASET, f"trained_on {ref} is revoked")


def _licensed(
    state: Reader, org: str, receipt_ids: Sequence[int]
) -> dict[tuple[str, str], list[int]]:
    """``org``'s receipts by (version ref, purpose), in listed order, each once; raises
    TxError(unlicensed_input) for a receipt that is not ``org``'s, or whose fee a lease waived:
    a derivative lasts, a lease's rights end with its last block (as its receipts grant no
    download after it, app.models.access, and consent to no copy, app.models.keeper)."""
    usage = UsageReader(state)
    licensed: dict[tuple[str, str], list[int]] = {}
    for receipt_id in dict.fromkeys(receipt_ids):
        receipt = usage.receipt(receipt_id)
        if receipt is None or receipt.consumer_org != org:
            raise TxError(
                model_errors.UNLICENSED_INPUT, f"receipt {receipt_id} is not a receipt of {org}"
            )
        if receipt.lease_id:
            raise TxError(
                model_errors.UNLICENSED_INPUT,
                f"receipt {receipt_id} is a use lease {receipt.lease_id} covered: a lease "
                "licenses no derivative; take the use outside the lease",
            )
        key = (version_ref(receipt.model, receipt.version), receipt.purpose)
        licensed.setdefault(key, []).append(receipt_id)
    return licensed


def _licensing_receipt(
    state: Reader,
    ref: str,
    purpose: str,
    deriving: tuple[str, str],
    licensed: dict[tuple[str, str], list[int]],
) -> int:
    """What licenses the organisation of ``deriving`` (org, derivative model) to derive from
    ``ref``: 0 when it owns ``ref``, else the first of its receipts of an allowed ``purpose``
    use of ``ref`` that licensed no other model yet. Raises TxError(unlicensed_input, or
    receipt_spent when each such receipt licensed another model)."""
    org, child_model = deriving
    model = ModelsReader(state).model(split_ref(ref)[0])
    if model is not None and model.owner_org == org:
        return 0
    candidates = licensed.get((ref, purpose), [])
    bound = DatasetsReader(state)
    for receipt_id in candidates:
        if bound.licensed_model(receipt_id) in ("", child_model):
            return receipt_id
    if candidates:
        first = candidates[0]
        raise TxError(
            errors.RECEIPT_SPENT,
            f"receipt {first} already licensed {bound.licensed_model(first)}: a receipt licenses "
            f"one derivative model; take another {purpose} use of {ref} for {child_model}",
        )
    owner = model.owner_org if model is not None else "nobody"
    raise TxError(
        model_errors.UNLICENSED_INPUT,
        f"{ref} belongs to {owner}: name a receipt of {org}'s allowed {purpose!s} use of it "
        f"(tx use {ref} --purpose {purpose})",
    )


def _check_receipt_terms(state: Reader, pin: state_pb2.InputTerms) -> None:
    """The input still carries the license its licensing receipt was taken under: else its
    owner, seeing the publication coming, could attach other terms (a royalty of the whole fee,
    a deny of every use) just before it and bind the derivative to terms its publisher never
    paid for. Raises TxError(terms_changed)."""
    if not pin.receipt:
        return
    receipt = UsageReader(state).receipt(pin.receipt)
    taken = receipt.license if receipt is not None else ""
    if taken != pin.license:
        raise TxError(
            errors.TERMS_CHANGED,
            f"{pin.ref} is licensed under {pin.license or 'no license'} now, receipt "
            f"{pin.receipt} was taken under {taken}: take a use under the terms it carries now",
        )


def _derive(asker: _Asker, up: Upstream, purpose: str, child: Derivative) -> None:
    """Ask the input's license ``derive(ctx)`` if it defines one; raises TxError."""
    ref = up.ref
    terms = asker.terms(up)
    if terms is None:
        return
    lic, owner = terms
    run = asker.program(lic)
    if "derive" not in run[0].functions:
        return
    derivative = {
        "model": child.model,
        "version": child.version,
        "owner": child.owner,
        "asset": "model",
        "license": child.license,
        "relation": up.relation,
        "depth": 1,
    }
    ctx = asker.context(ref, owner, lic, purpose, 1, derivative)
    allowed, reason = asker.decide(run, "derive", ctx, lic.id)
    if not allowed:
        raise TxError(model_errors.DERIVE_REFUSED, f"{ref} ({lic.id}): {quote(reason, MAX_SHOWN)}")
