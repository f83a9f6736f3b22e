"""The modelgov ABCI application: a deterministic state machine behind a CometBFT engine.

Nothing in this package reads the clock, randomness, the environment or floats while executing
blocks, and nothing here imports ``chain``.
"""

APP_VERSION = 1
"""Protocol version of the state machine; bumps when the rules of execution change."""

SOFTWARE_VERSION = "0.1.0"
