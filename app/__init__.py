"""The modelgov ABCI application: a deterministic state machine behind a CometBFT engine.

Nothing in this package reads the clock, randomness, the environment or floats while executing
blocks, and nothing here imports ``chain``.
"""

APP_VERSION = 3
"""Protocol version of the state machine; bumps when the rules of execution change (2: the
hardened rules of issues 9 and 10: repriced license gas, ASCII scripts, range checks, sender
authenticated before message checks, digest holding, removal deletes accounts; 3: the receipt
indexes are stored outside the Merkle tree, so the app hash no longer covers them)."""

SOFTWARE_VERSION = "0.1.0"
