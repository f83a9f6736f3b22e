"""``modelgov.Client``: the Python API over a node and one key (see the package docstring)."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.pb.modelgov.v1 import state_pb2, tx_pb2
from chain.client import ClientError, Node, TxOutcome
from chain.keys import Key, Keyring, default_keyring
from chain.rpc import default_node
from chain.weights import cache
from chain.weights import client as weights
from chain.weights.cache import default_cache
from chain.weights.claims import default_state_dir
from modelgov.records import Model, Pulled, Receipt, Version

if TYPE_CHECKING:
    import torch

MetricValue = str | int | Decimal
MAX_STORE_SCAN = 32
"""Most of the organisation's models (and their newest versions) looked at for its store."""


class Client:
    """A node of the chain and (for anything signed or gated) one of your keys.

    ``node`` is the RPC URL (default: ``$MODELGOV_NODE``, ``modelgov config set node``, or the
    local node); ``key`` the name of a key in ``keyring`` (default: the CLI's keyring), unlocked
    with ``passphrase`` (else $MODELGOV_KEYRING_PASSPHRASE) when it is encrypted. Store
    URLs are found from the chain: pulls try the stores a version names and the providers
    announced for its digest; pushes go to ``store_url`` if given, else the store your
    organisation last announced, else the weights port beside the node.
    """

    def __init__(
        self,
        node: str | None = None,
        key: str | None = None,
        *,
        keyring: str | Path | None = None,
        chain_id: str = "",
        cache_dir: str | Path | None = None,
        store_url: str | None = None,
        passphrase: str | None = None,
    ) -> None:
        self.node = Node(node or default_node(), chain_id)
        self.url = node or default_node()
        self._key_name = key
        directory = Path(keyring) if keyring else default_keyring()
        self._keyring = Keyring(directory, passphrase)
        self._key: Key | None = None
        self._org = ""
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache()
        self._store_url = store_url

    def __repr__(self) -> str:
        return f"Client(node={self.url!r}, key={self._key_name!r})"

    # --- who is asking ---------------------------------------------------------------------

    @property
    def key(self) -> Key:
        """The signing key (loaded once); raises ValueError when the client has none."""
        if self._key is None:
            if not self._key_name:
                raise ValueError("this Client has no key: Client(node, key='NAME')")
            self._key = self._keyring.get(self._key_name)
        return self._key

    @property
    def address(self) -> str:
        """The key's account address (read from the key file's public part: no passphrase)."""
        if not self._key_name:
            raise ValueError("this Client has no key: Client(node, key='NAME')")
        return self._keyring.public(self._key_name)[0]

    @property
    def org(self) -> str:
        """The key's organisation, as the chain knows its account."""
        if not self._org:
            self._org = self.node.account(self.address).org
        return self._org

    def model_id(self, model: str) -> str:
        """ORG/NAME as given, or a bare NAME in your organisation."""
        return model if "/" in model else f"{self.org}/{model}"

    # --- reads -----------------------------------------------------------------------------

    def resolve(self, ref: str) -> Version:
        """The version ``MODEL@VERSION`` names; VERSION may be an alias or ``latest``, MODEL a
        bare NAME of your organisation. Raises ClientError (``not_found``)."""
        model, sep, name = ref.rpartition("@")
        if not sep or not model or not name:
            raise ValueError(f"{ref!r} is not MODEL@VERSION (or MODEL@latest, MODEL@ALIAS)")
        model_id = self.model_id(model)
        try:
            found = self.node.version(model_id, name)
        except ClientError as exc:
            if not exc.not_found:
                raise
            found = self.node.resolve(model_id, name)
        return Version.of(found)

    def version(self, ref: str) -> Version:
        """Same as ``resolve``."""
        return self.resolve(ref)

    def model(self, model: str) -> Model:
        """One model (ORG/NAME, or a bare NAME of your organisation)."""
        return Model.of(self.node.model(self.model_id(model)))

    def models(self, owner: str = "") -> list[Model]:
        """Every model, or ``owner``'s."""
        return [Model.of(m) for m in self.node.models(owner)]

    def versions(self, model: str) -> list[Version]:
        """A model's versions in publication order."""
        return [Version.of(v) for v in self.node.versions(self.model_id(model))]

    def receipt(self, receipt_id: int) -> Receipt:
        """One usage receipt."""
        return Receipt.of(self.node.receipt(receipt_id))

    def receipts(self, ref: str = "", consumer_org: str = "", licensor: str = "") -> list[Receipt]:
        """Receipts, of one MODEL@VERSION (or MODEL), consumer org or licensor."""
        model, _, version = ref.partition("@")
        listing = self.node.receipts(
            self.model_id(model) if model else "", version, "", consumer_org, licensor
        )
        return [Receipt.of(r) for r in listing]

    def balance(self, org: str = "") -> int:
        """An organisation's credits (yours by default)."""
        return int(self.node.balance(org or self.org).amount)

    def quote(self, ref: str, purpose: str, quantity: int = 1) -> state_pb2.Decision:
        """What the version's license would decide for you now (a dry run, no transaction)."""
        version = self.resolve(ref)
        return self.node.evaluate(self.address, version.model, version.version, purpose, quantity)

    # --- writes ----------------------------------------------------------------------------

    def push(
        self,
        path: str | Path,
        model: str,
        version: str,
        *,
        license: str = "",
        parents: Iterable[str] = (),
        metrics: Mapping[str, MetricValue] | None = None,
        card: str | Path | None = None,
        description: str = "",
        format: str = "",
        consents: Iterable[int] = (),
        say: Any = None,
    ) -> Version:
        """Publish ``path`` (a weights file or folder) as ``model@version`` in one transaction,
        as ``modelgov model push`` does: everything is checked before a byte is uploaded, and a
        version left without a license is warned about (``warnings.warn``). ``metrics`` are
        exact decimals (``{"accuracy": "0.913"}``; a float is refused, it is not exact)."""
        parsed = tuple(_metric(name, value) for name, value in (metrics or {}).items())

        def tell(line: str) -> None:
            if line.startswith("warning: "):
                warnings.warn(line.removeprefix("warning: "), UserWarning, stacklevel=3)
            if say is not None:
                say(line)

        published = weights.push(
            self.node,
            self.key,
            self.store_url(),
            Path(path),
            model,
            version,
            license,
            tuple(parents),
            format,
            consents=tuple(consents),
            state_dir=default_state_dir(),
            say=tell,
            metrics=parsed,
            card=Path(card) if card is not None else None,
            description=description,
        )
        return Version.of(published)

    def deploy_license(self, name: str, source: str | Path) -> str:
        """Deploy a license script (its text, or a .lic file) as ORG/NAME of your organisation
        and return that id; an id already deployed is returned as it is, unchanged."""
        license_id = f"{self.org}/{name}"
        try:
            self.node.license(license_id)
            return license_id
        except ClientError as exc:
            if not exc.not_found:
                raise
        text = Path(source).read_text() if isinstance(source, Path) else source
        deploy = tx_pb2.DeployLicense(name=name, source=text)
        self.node.send(self.key, [tx_pb2.Msg(deploy_license=deploy)])
        return license_id

    def use(
        self,
        ref: str,
        purpose: str,
        quantity: int = 1,
        max_fee: int | None = None,
        memo: str = "",
    ) -> Receipt:
        """Use a version under its license and return the receipt. Without ``max_fee`` the fee
        the license quotes now (a dry run) is the most you pay; a denial raises ClientError
        with the license's reason before anything is sent."""
        version = self.resolve(ref)
        if max_fee is None:
            decision = self.quote(ref, purpose, quantity)
            if not decision.allowed:
                raise ClientError(f"{version.ref}: the license denies it: {decision.reason}")
            max_fee = decision.fee
        body = tx_pb2.Use(
            model=version.model,
            version=version.version,
            purpose=purpose,
            quantity=quantity,
            max_fee=max_fee,
        )
        outcome = self.node.send(self.key, [tx_pb2.Msg(use=body)], memo=memo)
        return self.receipt(receipt_id(outcome))

    # --- weights on this machine -----------------------------------------------------------

    def pull(self, ref: str, to: str | Path | None = None) -> Path:
        """The local path of a version's weights, downloaded through the cache (keyed by
        digest: a second pull of the same weights is verified on disk and not downloaded
        again). With ``to``, a copy is placed there too. Warns for a deprecated version."""
        return self.fetch(ref, to).path

    def fetch(self, ref: str, to: str | Path | None = None) -> Pulled:
        """``pull`` with its report: path, digest, provider, whether the cache served it."""
        version = self.resolve(ref)
        if version.status != "active":
            reason = version.pb.status_reason
            warnings.warn(f"{version.ref} is {version.status}: {reason}", UserWarning, stacklevel=3)
        hit = cache.cached(self.cache_dir, version.digest)
        if hit is not None:
            pulled = Pulled(hit, version.digest, version.ref, "", True)
        else:
            path, provider = cache.download(self.node, self.key, self.cache_dir, version.pb)
            pulled = Pulled(path, version.digest, version.ref, provider, False)
        if to is not None:
            copied = cache.copy_out(pulled.path, Path(to))
            pulled = Pulled(copied, pulled.digest, pulled.ref, pulled.provider, pulled.cached)
        return pulled

    def load(self, ref: str) -> dict[str, torch.Tensor]:
        """A version's weights as tensors, verified against the chain's digest and loaded
        safely (safetensors or ``torch.load(weights_only=True)``, never arbitrary pickles)."""
        from chain.weights.torch_io import load_state_dict

        pulled = self.fetch(ref)
        return load_state_dict(pulled.path, pulled.digest)

    def store_url(self) -> str:
        """Where your pushes go: the ``store_url`` given, else the store your organisation
        announced most recently among its models' newest versions, else the weights port
        beside the node."""
        if self._store_url is None:
            self._store_url = _announced_store(self.node, self.org) or _beside(self.url)
        return self._store_url


def receipt_id(outcome: TxOutcome) -> int:
    """The receipt id a use's events carry."""
    for event in outcome.events:
        if event.get("type") == "usage.receipt":
            for attribute in event.get("attributes", []):
                if attribute.get("key") == "id":
                    return int(attribute["value"])
    raise ClientError(f"tx {outcome.hash} carries no receipt")


def _metric(name: str, value: MetricValue) -> tx_pb2.Metric:
    """A metric from an exact value; floats are refused (0.1 is not exact in binary)."""
    from chain.cli.options import parse_metric

    if isinstance(value, float):
        raise TypeError(f"metric {name}: give {value!r} as a str or Decimal, floats are not exact")
    try:
        return parse_metric(f"{name}={value}")
    except Exception as exc:
        raise ValueError(f"metric {name}={value}: {exc}") from None


def _announced_store(node: Node, org: str) -> str:
    """The store ``org`` announced for the newest version of one of its models, or ""."""
    models, _ = node.models(org).take(MAX_STORE_SCAN)
    for model in models:
        try:
            newest = node.resolve(model.id, "latest")
        except ClientError as exc:
            if exc.not_found:
                continue
            raise
        for provider in node.providers(newest.weights_digest):
            if provider.org == org:
                return provider.url
    return ""


def _beside(node_url: str) -> str:
    from chain.cli.model import default_store_url

    return default_store_url(node_url)
