"""The CometBFT engine: the pinned release, its installation, its configuration."""
