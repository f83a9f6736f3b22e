# %% [markdown]
# # modelgov from Python: push, pull, load, use
#
# A notebook-style walk through the Python API (each `# %%` is a cell; run it as a script
# with `python examples/quickstart.py`, or open it in an editor that runs cells). It needs a
# running chain: `modelgov testnet init --validators 2 --dir testnet && modelgov testnet start
# --dir testnet` gives one at http://127.0.0.1:26657 with the example consortium's keys in
# testnet/keys. Set MODELGOV_NODE and MODELGOV_KEYRING to point elsewhere.

# %%
import os
import tempfile
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

import modelgov

NODE = os.environ.get("MODELGOV_NODE", "http://127.0.0.1:26657")
KEYS = os.environ.get("MODELGOV_KEYRING", "testnet/keys")
owner = modelgov.Client(NODE, key="northwind-researcher", keyring=KEYS)
user = modelgov.Client(NODE, key="acme-ml", keyring=KEYS)

# %% [markdown]
# ## A license: a small script the chain runs for every use (genesis/licenses/open.lic)

# %%
license_id = owner.deploy_license("open", Path("genesis/licenses/open.lic"))
print(license_id)

# %% [markdown]
# ## Push: one transaction registers the model (if new), publishes the version, announces
# the store. Everything is checked before a byte is uploaded; metrics are exact decimals.

# %%
work = Path(tempfile.mkdtemp())
rng = np.random.default_rng(0)
save_file(
    {"layer.weight": rng.standard_normal((16, 16)).astype("float32")},
    str(work / "model.safetensors"),
)
(work / "README.md").write_text("# quickstart-mlp\nA 16x16 example layer.\n")  # the model card
version_name = str(rng.integers(1, 10**9))
published = owner.push(
    work,
    "quickstart-mlp",  # a bare NAME: northwind-uni/quickstart-mlp
    version_name,
    license=license_id,
    metrics={"accuracy": "0.913"},
    description="the quickstart's example",
)
print(published)

# %% [markdown]
# ## Resolve: MODEL@VERSION, MODEL@latest, or an alias the owner set

# %%
print(owner.resolve("quickstart-mlp@latest").ref)
print(user.resolve(f"northwind-uni/quickstart-mlp@{version_name}").metrics)

# %% [markdown]
# ## Use: the license decides; the receipt comes back (id, fee)

# %%
receipt = user.use("northwind-uni/quickstart-mlp@latest", purpose="research")
print(receipt.id, receipt.fee, receipt.ref)

# %% [markdown]
# ## Pull and load: a local path through the cache (keyed by digest), tensors loaded safely

# %%
path = user.pull("northwind-uni/quickstart-mlp@latest")
print(path)
again = user.fetch("northwind-uni/quickstart-mlp@latest")
print(again.cached, again)  # True: verified on disk, not downloaded again
tensors = user.load("northwind-uni/quickstart-mlp@latest")  # needs the torch extra
print({name: tuple(t.shape) for name, t in tensors.items()})
