"""Registered errors of the members codespace (governance); numbers never change once released."""

from app.core.errors import register

MEMBERS = "members"
INVALID_PROPOSAL = register(MEMBERS, 1, "invalid_proposal", "the proposal is not well formed")
PROPOSAL_NOT_FOUND = register(MEMBERS, 2, "proposal_not_found", "no proposal with this id")
VOTING_CLOSED = register(MEMBERS, 3, "voting_closed", "the proposal is no longer open to votes")
INVALID_VOTE = register(MEMBERS, 4, "invalid_vote", "a vote is yes, no or abstain")
ORG_EXISTS = register(MEMBERS, 5, "org_exists", "an organisation with this id exists")
ORG_NOT_FOUND = register(MEMBERS, 6, "org_not_found", "no organisation with this id")
ACCOUNT_EXISTS = register(MEMBERS, 7, "account_exists", "this key already belongs to an account")
ACCOUNT_NOT_FOUND = register(MEMBERS, 8, "account_not_found", "no account with this address")
INVALID_VALIDATOR = register(MEMBERS, 9, "invalid_validator", "the validator change is not valid")
INVALID_PARAMS = register(MEMBERS, 10, "invalid_params", "the parameter change is not valid")
IDS_EXHAUSTED = register(MEMBERS, 11, "ids_exhausted", "every proposal id has been used")
TOO_MANY_OPEN = register(
    MEMBERS, 12, "too_many_open_proposals", "the organisation has the most open proposals allowed"
)
