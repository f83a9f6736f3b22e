"""Registered errors of the federated codespace; numbers never change once released."""

from app.core.errors import register

FEDERATED = "federated"
INVALID_FIELD = register(FEDERATED, 1, "invalid_field", "a field of the message is not valid")
BASE_NOT_FOUND = register(FEDERATED, 2, "base_not_found", "the base version is not published")
TARGET_TAKEN = register(FEDERATED, 3, "target_taken", "the target version exists or is claimed")
UNKNOWN_ORG = register(FEDERATED, 4, "unknown_org", "an invited organisation does not exist")
BAD_DEADLINE = register(FEDERATED, 5, "bad_deadline", "the deadline height has already passed")
ROUND_NOT_FOUND = register(FEDERATED, 6, "round_not_found", "no round with this id")
ROUND_CLOSED = register(FEDERATED, 7, "round_closed", "the round is finalized or expired")
NOT_INVITED = register(FEDERATED, 8, "not_invited", "the sender's organisation is not invited")
ALREADY_SUBMITTED = register(FEDERATED, 9, "already_submitted", "one update per org per round")
NOT_OPENER = register(FEDERATED, 10, "not_opener", "only the opening organisation finalizes")
NOT_SUBMITTED = register(FEDERATED, 11, "not_submitted", "an included org submitted no update")
TOO_FEW = register(FEDERATED, 12, "too_few_participants", "fewer updates than min_participants")
IDS_EXHAUSTED = register(FEDERATED, 13, "ids_exhausted", "every round id has been used")
TOO_MANY_OPEN = register(
    FEDERATED, 14, "too_many_open", "the organisation has the most rounds open at once"
)
TARGET_SOLD = register(
    FEDERATED,
    15,
    "target_sold",
    "the round's target model changed owner: the round publishes nothing more into it",
)
