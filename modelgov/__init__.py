"""modelgov: the Python API of a consortium's model registry on a CometBFT chain.

::

    import modelgov

    mg = modelgov.Client("http://127.0.0.1:26657", key="northwind-researcher")
    v = mg.push("runs/tiny", "tiny-mlp", "1.2", license="northwind-uni/open",
                metrics={"accuracy": "0.913"}, description="more epochs")
    print(v)                                  # readable: ref, digest, status, metrics, time ...
    path = mg.pull("northwind-uni/tiny-mlp@latest")   # a local path, through the cache
    tensors = mg.load("tiny-mlp@stable")      # verified, loaded safely (torch extra)
    receipt = mg.use("northwind-uni/tiny-mlp@1.2", purpose="inference")
    print(receipt.id, receipt.fee)

References are ``MODEL@VERSION`` everywhere: MODEL is ``ORG/NAME`` or a bare ``NAME`` of your
key's organisation, VERSION a version, an alias its owner set, or ``latest`` (the newest active
version). Results are small dataclasses (``Version``, ``Model``, ``Receipt``, ``Pulled``) that
print readably and keep the chain's protobuf record as ``.pb``; ``Client.node`` is the typed
``chain.client.Node`` with one method per query path of the chain, for everything else.

Errors: ``ClientError`` (the chain refused; ``.codespace``, ``.code``), ``TransferError`` (no
store served verified bytes, or the license refused the download: the message says what to
do), ``WeightsError`` (local weights that cannot be published or loaded safely), ``ValueError``
(a malformed reference or metric).

This package is a thin layer over ``chain`` (node RPC, keys, weights stores, torch loading) and
``app`` (the chain's own messages and rules), which stay importable as top-level packages: the
design card fixes those folders, and the app's validators refuse ``import chain`` inside
``app``; see the README, "Python API".
"""

from __future__ import annotations

from chain.client import ClientError
from chain.weights.cache import default_cache
from chain.weights.client import TransferError
from chain.weights.digest import WeightsError
from modelgov.api import Client
from modelgov.records import Model, Pulled, Receipt, Version

__all__ = [
    "Client",
    "ClientError",
    "Model",
    "Pulled",
    "Receipt",
    "TransferError",
    "Version",
    "WeightsError",
    "default_cache",
]
