"""Off-chain weights: digests, each node's content-addressed store, the gated HTTP server, push
and pull, and safe loading. Nothing here is loaded before its digest is verified."""
