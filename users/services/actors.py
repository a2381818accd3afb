"""Who did it: every service takes an Actor and writes it into the audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from users.models import ActorKind

# The actors that speak for an identity provider: a SCIM token, a SAML login.
IDENTITY_PROVIDER_KINDS: Final = frozenset({ActorKind.SCIM, ActorKind.IDP})


@dataclass(frozen=True)
class Actor:
    kind: str
    name: str
    # The users.Connection a SCIM token is bound to: what it provisions belongs there.
    connection_id: int | None = None

    @property
    def is_identity_provider(self) -> bool:
        """Whether an identity provider acts: it may reach provisioned accounts only."""
        return self.kind in IDENTITY_PROVIDER_KINDS

    @classmethod
    def admin(cls, user: object) -> Actor:
        return cls(ActorKind.ADMIN, str(getattr(user, "username", user)))

    @classmethod
    def scim(cls, token_name: str, connection_id: int | None = None) -> Actor:
        return cls(ActorKind.SCIM, token_name, connection_id)

    @classmethod
    def idp(cls, slug: str) -> Actor:
        return cls(ActorKind.IDP, slug)

    @classmethod
    def person(cls, user: object) -> Actor:
        """Someone changing their own profile (self-service pages)."""
        return cls(ActorKind.PERSON, str(getattr(user, "username", user)))

    @classmethod
    def setup_link(cls, name: str) -> Actor:
        """The holder of a connection's setup link (the customer's IT admin)."""
        return cls(ActorKind.SETUP_LINK, name)

    @classmethod
    def system(cls, what: str = "system") -> Actor:
        return cls(ActorKind.SYSTEM, what)
