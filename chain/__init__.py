"""Everything around a modelgov node: CLI, RPC client, keys, engine, testnet, weights."""
