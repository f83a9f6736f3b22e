"""The one place that pins the engine and the proto sources generated from its module."""

from __future__ import annotations

COMETBFT_MODULE = "github.com/cometbft/cometbft"
# The newest v0.38.x the Go module proxy serves here. Never "latest": that is v1.x, another ABCI.
COMETBFT_VERSION = "v0.38.26"
# gogoproto as required by the pinned CometBFT's go.mod; its options appear in the ABCI protos.
GOGOPROTO_MODULE = "github.com/cosmos/gogoproto"
GOGOPROTO_VERSION = "v1.7.0"
