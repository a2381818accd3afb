"""Spaces, personas and the memberships they produce.

Models hold data and constraints only; every write goes through personas.services.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class SpaceRole(models.TextChoices):
    """What a member may do in a space; ordered from least to most (see RANK)."""

    MEMBER = "member", "Member"
    CONTRIBUTOR = "contributor", "Contributor"
    MODERATOR = "moderator", "Moderator"


# A user in a space for several reasons holds the strongest role among them.
SPACE_ROLE_RANK: dict[str, int] = {role: rank for rank, role in enumerate(SpaceRole.values)}


class Space(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"


class Persona(models.Model):
    """A rule over user attributes (INTERFACES.md §6) and the spaces its matches join."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    rule = models.JSONField()
    # Set when the rule uses within_days / older_than_days: its matches move with the
    # calendar, so the daily job must re-evaluate it even when nobody changed.
    has_time_rule = models.BooleanField(default=False, editable=False)
    spaces = models.ManyToManyField(Space, through="PersonaSpace", related_name="personas")  # type: ignore[var-annotated]
    last_evaluated_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"


class PersonaSpace(models.Model):
    """A persona puts its matches into this space with this role."""

    persona = models.ForeignKey(Persona, on_delete=models.CASCADE, related_name="space_links")
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="persona_links")
    role = models.CharField(max_length=20, choices=SpaceRole.choices, default=SpaceRole.MEMBER)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["persona", "space"], name="personas_link_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.persona_id} -> {self.space_id} ({self.role})"


class MembershipSource(models.TextChoices):
    PERSONA = "persona", "Persona"
    MANUAL = "manual", "Manual (admin)"


class SpaceMembership(models.Model):
    """One row per reason a user is in a space: one per persona that matched them, and
    at most one manual row. Removing one reason leaves the others in place."""

    id = models.BigAutoField(primary_key=True)
    # No single-column indexes on space and persona: the composite indexes below lead
    # with them. user_id keeps the foreign key's own index (a user's spaces, cascades).
    space = models.ForeignKey(
        Space, on_delete=models.CASCADE, related_name="memberships", db_index=False
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="space_memberships"
    )
    persona = models.ForeignKey(
        Persona,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="memberships",
        db_index=False,
    )
    source = models.CharField(max_length=10, choices=MembershipSource.choices)
    role = models.CharField(max_length=20, choices=SpaceRole.choices, default=SpaceRole.MEMBER)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["space", "user", "persona"],
                name="personas_membership_persona_unique",
                condition=Q(persona__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["space", "user"],
                name="personas_membership_manual_unique",
                condition=Q(persona__isnull=True),
            ),
            models.CheckConstraint(
                condition=(Q(source="persona") & Q(persona__isnull=False))
                | (Q(source="manual") & Q(persona__isnull=True)),
                name="personas_membership_source_matches",
            ),
        ]
        indexes = [
            # The evaluator's diff: "who does this persona hold in this space".
            models.Index(fields=["persona", "space", "user"], name="personas_membership_eval_idx"),
            # "Members of a space" in user order: the API's keyset pages.
            models.Index(fields=["space", "user"], name="personas_membership_space_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.space_id} ({self.source})"


class PendingEvaluation(models.Model):
    """A durable to-do list for the evaluator, written by event handlers in SCIM and SAML
    requests and drained by a Celery task (queued at once, and every minute by beat).

    user_id set: evaluate every persona for that user; persona_id set: evaluate that
    persona for everyone; both empty: evaluate everything. Rows are append-only and
    deleted by id once handled, so a mark made while a drain runs is never lost.
    """

    id = models.BigAutoField(primary_key=True)
    # Plain values, not foreign keys: a mark for a user deleted since is simply a no-op.
    user_id = models.UUIDField(null=True, blank=True)
    persona_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    def __str__(self) -> str:
        return f"pending {self.user_id or ''}{self.persona_id or ''}"
