"""The ABCI 2.0 boundary: the socket server, the method defaults, and modelgov's adapter."""
