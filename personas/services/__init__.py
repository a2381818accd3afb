"""Every write to personas, spaces and space memberships goes through these functions."""

from personas.services.evaluation import (
    EvaluationResult,
    persona_evaluate,
    persona_evaluate_for_users,
)
from personas.services.importing import ImportSummary, personas_file_parse, personas_import
from personas.services.pending import (
    DrainResult,
    pending_drain,
    pending_mark_persona,
    pending_mark_users,
)
from personas.services.personas import (
    SpaceGrant,
    clean_space_grants,
    persona_create,
    persona_delete,
    persona_rule_set,
    persona_spaces_set,
    persona_upsert,
)
from personas.services.spaces import (
    space_delete,
    space_member_add,
    space_member_remove,
    space_upsert,
)

__all__ = [
    "DrainResult",
    "EvaluationResult",
    "ImportSummary",
    "SpaceGrant",
    "clean_space_grants",
    "pending_drain",
    "pending_mark_persona",
    "pending_mark_users",
    "persona_create",
    "persona_delete",
    "persona_evaluate",
    "persona_evaluate_for_users",
    "persona_rule_set",
    "persona_spaces_set",
    "persona_upsert",
    "personas_file_parse",
    "personas_import",
    "space_delete",
    "space_member_add",
    "space_member_remove",
    "space_upsert",
]
