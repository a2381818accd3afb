"""The user directory: users, custom profile fields, roles and their members, audit.

Models hold data and constraints only; every write goes through users.services.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar, Final

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.crypto import salted_hmac

import users.lookups  # noqa: F401  (registers the __ci lookup)


class Source(models.TextChoices):
    ADMIN = "admin", "Admin"
    SAML = "saml", "SAML (just in time)"
    SCIM = "scim", "SCIM"


class ActorKind(models.TextChoices):
    ADMIN = "admin", "Admin user"
    SCIM = "scim", "SCIM token"
    IDP = "idp", "Identity provider"
    SYSTEM = "system", "System"
    PERSON = "person", "The person themself (self-service)"
    SETUP_LINK = "setup_link", "Setup link (the customer's IT admin)"


class Vendor(models.TextChoices):
    """Who runs a connection's identity provider: picks the attribute-map preset and the
    set-up steps the admin's connection page shows."""

    ONELOGIN = "onelogin", "OneLogin"
    OKTA = "okta", "Okta"
    ENTRA = "entra", "Microsoft Entra ID"
    GOOGLE = "google", "Google Workspace"
    SAML = "saml", "Other SAML 2.0 identity provider"


class Connection(models.Model):
    """One identity provider's connection: its SAML side (sso.IdentityProvider with the
    same slug) and its SCIM tokens. Users provisioned through a bound token belong to it,
    and its SAML login links them on the first sign-in. It may exist before its IdP's
    metadata is imported (SP metadata is served from then on; logins wait)."""

    slug = models.SlugField(max_length=50, unique=True)
    vendor = models.CharField(max_length=20, choices=Vendor.choices, default=Vendor.SAML)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class SetupLink(models.Model):
    """A time-limited link that lets the customer's IT admin set up one connection
    without a Django account: see our values, submit IdP metadata, run a test login.
    Only its hash is stored; the first browser that opens it claims it (one person)."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="setup_links")
    token_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=16)
    created_by = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    # SHA-256 of a secret kept in the session of the browser that opened it first.
    claim_hash = models.CharField(max_length=64, blank=True, default="")
    claimed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"setup link {self.prefix}… for {self.connection_id}"


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def get_by_natural_key(self, username: str | None) -> User:
        # Logins compare usernames case-insensitively, like the unique constraint.
        return self.get(username__ci=username)

    def create_user(self, username: str, password: str | None = None, **extra: Any) -> User:
        user = self.model(username=username, **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, username: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(username, password, **extra)


# Names of the unique constraints services map to a 409 (axero_idp.errors.raise_for_constraint).
USERNAME_UNIQUE: Final = "users_user_username_ci_unique"
ROLE_NAME_UNIQUE: Final = "users_role_name_ci_unique"


class User(AbstractBaseUser, PermissionsMixin):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    username = models.CharField(max_length=255, help_text="Unique, case-insensitively.")
    email = models.EmailField(max_length=320, blank=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    display_name = models.CharField(max_length=300, blank=True)
    title = models.CharField(max_length=200, blank=True)
    department = models.CharField(max_length=200, blank=True)
    employee_number = models.CharField(max_length=100, blank=True)
    cost_center = models.CharField(max_length=200, blank=True)
    organization = models.CharField(max_length=200, blank=True)
    division = models.CharField(max_length=200, blank=True)
    # NULL, not "": SCIM distinguishes "no externalId" from any value.
    external_id = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    manager = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )
    # A manager reference (id, external id, username or email) that named nobody yet;
    # linked by user_create/user_update when that person arrives.
    pending_manager_ref = models.CharField(max_length=320, blank=True, default="")
    # The hire date as the identity provider sent it: `hired_at` keeps the instant
    # (SCIM's dateTime round-trips; a plain date is midnight UTC), `hire_date` its
    # calendar day as written, which persona rules, filters and the admin work on.
    # Both are written together by users.services.values.hire_columns.
    hire_date = models.DateField(null=True, blank=True)
    hired_at = models.DateTimeField(null=True, blank=True)
    # Where the identity provider says the photo is; the image pipeline fetches it.
    photo_url = models.URLField(max_length=2000, blank=True, default="")
    # Short fingerprint of the stored profile image ("" = none), recorded by the image
    # pipeline through user_image_recorded so /api/v1/me/ can name a cache-busting URL
    # without users/ importing media/.
    image_version = models.CharField(max_length=32, blank=True, default="", editable=False)
    custom = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    deactivated_at = models.DateTimeField(null=True, blank=True)
    # Who deactivated the account (an ActorKind; "" while active): an admin's
    # deactivation holds against the identity provider's reactivation (SCIM active:
    # true) until an admin reactivates the account or sets idp_may_reactivate.
    deactivated_by = models.CharField(
        max_length=10, choices=ActorKind.choices, blank=True, default="", editable=False
    )
    idp_may_reactivate = models.BooleanField(
        "identity provider may reactivate",
        default=False,
        help_text="An admin deactivated this account: let the identity provider (SCIM "
        "active: true) reactivate it.",
    )
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.ADMIN)
    # The connection whose SCIM token last provisioned the user (none for local accounts,
    # JIT users and unbound tokens).
    connection = models.ForeignKey(
        Connection,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="users",
        editable=False,
    )
    # Bumped to end every session of the user at once (see _get_session_auth_hash).
    session_generation = models.PositiveIntegerField(default=0, editable=False)
    version = models.PositiveBigIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    USERNAME_FIELD = "username"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["email"]

    class Meta:
        constraints = [
            models.UniqueConstraint(
                Lower("username"),
                name=USERNAME_UNIQUE,
                violation_error_message="A user with this user name exists already (user names ignore case).",
            ),
        ]
        indexes = [
            models.Index(Lower("email"), name="users_user_email_ci_idx"),
            models.Index(fields=["external_id"], name="users_user_external_id_idx"),
            # Partial: only users still waiting for their manager are in it.
            models.Index(
                Lower("pending_manager_ref"),
                name="users_user_pending_mgr_idx",
                condition=~models.Q(pending_manager_ref=""),
            ),
            models.Index(fields=["hire_date"], name="users_user_hire_date_idx"),
            models.Index(fields=["created_at", "id"], name="users_user_created_idx"),
            # The people directory's order, and a manager's direct reports in it: both
            # pages read the first rows of an index range, however many people match.
            models.Index(fields=["last_name", "first_name", "id"], name="users_user_name_idx"),
            models.Index(
                fields=["manager", "last_name", "first_name", "id"], name="users_user_reports_idx"
            ),
        ]
        ordering = ["username"]

    def __str__(self) -> str:
        return self.username

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)

    def get_full_name(self) -> str:
        return self.display_name or self.full_name or self.username

    def get_short_name(self) -> str:
        return self.first_name or self.username

    def _get_session_auth_hash(self, secret: str | None = None) -> str:
        # Sessions carry this hash; Django drops a session whose hash no longer matches,
        # so bumping session_generation logs the user out of every web process at once.
        key_salt = "users.User.session_auth_hash"
        return salted_hmac(
            key_salt,
            f"{self.password}:{self.session_generation}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()


class CustomFieldType(models.TextChoices):
    STRING = "string", "Text"
    DATE = "date", "Date"
    NUMBER = "number", "Number"
    BOOLEAN = "boolean", "Yes/no"
    LIST = "list", "List of text"


class CustomField(models.Model):
    """An admin-defined profile field; values live in User.custom[key]."""

    key = models.SlugField(max_length=64, unique=True, help_text="Letters, digits, _ and -.")
    label = models.CharField(max_length=200)
    type = models.CharField(max_length=10, choices=CustomFieldType.choices)
    public = models.BooleanField(
        default=False, help_text="Shown on every employee's profile page (/people/<id>/)."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return f"{self.label} ({self.key})"


class Role(models.Model):
    """A role: what SCIM calls a group and OneLogin calls a role."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    display_name = models.CharField(max_length=255)
    # NULL, not "": SCIM distinguishes "no externalId" from any value.
    external_id = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    version = models.PositiveBigIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    members = models.ManyToManyField(  # type: ignore[var-annotated]
        User, through="RoleMembership", related_name="roles"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                Lower("display_name"),
                name=ROLE_NAME_UNIQUE,
                violation_error_message="A role with this name exists already (names ignore case).",
            ),
        ]
        indexes = [
            models.Index(fields=["external_id"], name="users_role_external_id_idx"),
            models.Index(fields=["created_at", "id"], name="users_role_created_idx"),
        ]
        ordering = ["display_name"]

    def __str__(self) -> str:
        return self.display_name


class MembershipSource:
    """How a membership came to be: "scim", "manual", or "saml:<idp slug>"."""

    SCIM = "scim"
    MANUAL = "manual"

    @staticmethod
    def saml(idp_slug: str) -> str:
        return f"saml:{idp_slug}"


class RoleMembership(models.Model):
    """One row per (role, user, source): a SCIM replace touches only SCIM's rows, and
    a SAML login's sync only its own IdP's, so other grants survive."""

    id = models.BigAutoField(primary_key=True)
    role = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="role_memberships")
    source = models.CharField(max_length=80)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            # Also the index for "members of a role [from a source]" and
            # "is X a member": (role, user) is its prefix.
            models.UniqueConstraint(
                fields=["role", "user", "source"], name="users_membership_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["user", "role"], name="users_membership_user_idx"),
            models.Index(fields=["role", "source", "user"], name="users_membership_src_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.role_id} ({self.source})"


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> int:
        raise TypeError("The audit trail is append-only")


class UnmappedAttribute(models.Model):
    """An attribute an identity provider sent that maps to no field of the directory:
    the request still succeeded, and admin lists these per connection with how to map
    them ("received but not mapped")."""

    class Protocol(models.TextChoices):
        SCIM = "scim", "SCIM"
        SAML = "saml", "SAML"

    connection = models.ForeignKey(
        Connection, null=True, blank=True, on_delete=models.CASCADE, related_name="unmapped"
    )
    protocol = models.CharField(max_length=4, choices=Protocol.choices)
    # As sent: a SCIM attribute path (extension URN included) or a SAML attribute name.
    name = models.CharField(max_length=300)
    first_seen = models.DateTimeField(default=timezone.now, editable=False)
    last_seen = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            # Unbound SCIM tokens have no connection: NULL is one connection here.
            models.UniqueConstraint(
                fields=["connection", "protocol", "name"],
                name="users_unmapped_unique",
                nulls_distinct=False,
            )
        ]
        ordering = ["-last_seen"]
        verbose_name = "received but not mapped attribute"

    def __str__(self) -> str:
        return f"{self.protocol}: {self.name}"


class AuditEvent(models.Model):
    """Append-only record of every change: who, what, to what, and how it looked."""

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    actor_kind = models.CharField(max_length=10, choices=ActorKind.choices)
    actor_name = models.CharField(max_length=255)
    action = models.CharField(max_length=80)
    target_type = models.CharField(max_length=40)
    target_id = models.CharField(max_length=64, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(
                fields=["target_type", "target_id", "created_at"], name="audit_target_idx"
            ),
            models.Index(fields=["created_at"], name="audit_created_idx"),
            models.Index(fields=["action", "created_at"], name="audit_action_idx"),
        ]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return (
            f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.action} {self.target_type}:{self.target_id}"
        )

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise TypeError("The audit trail is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise TypeError("The audit trail is append-only")
