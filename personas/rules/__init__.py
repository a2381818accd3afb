"""Persona rules: what they may say (validation) and what they mean (compiler)."""

from personas.rules.compiler import compile_rule
from personas.rules.validation import RuleInfo, validate_rule

__all__ = ["RuleInfo", "compile_rule", "validate_rule"]
