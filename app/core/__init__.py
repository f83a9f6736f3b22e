"""The state transition: decoding, authenticating and executing transactions and blocks."""
