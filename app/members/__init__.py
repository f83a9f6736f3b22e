"""The consortium: organisations, their accounts and roles, and the chain's parameters."""
