"""factory_boy factories for the directory."""

from __future__ import annotations

import factory

from users.models import CustomField, Role, RoleMembership, Source, User


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}@example.com")
    email = factory.LazyAttribute(lambda u: u.username)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password(None)
    # A person of the directory, as an identity provider provisioned them; local
    # accounts (admins) are made with create_superuser or source=Source.ADMIN.
    source = Source.SCIM


class RoleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Role

    display_name = factory.Sequence(lambda n: f"Role {n}")


class RoleMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RoleMembership

    role = factory.SubFactory(RoleFactory)
    user = factory.SubFactory(UserFactory)
    source = "manual"


class CustomFieldFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomField

    key = factory.Sequence(lambda n: f"field{n}")
    label = factory.LazyAttribute(lambda f: f.key.title())
    type = "string"


class SpaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "personas.Space"

    slug = factory.Sequence(lambda n: f"space-{n}")
    name = factory.LazyAttribute(lambda s: s.slug.replace("-", " ").title())


def staff_with(*perms: str, **fields: object) -> User:
    """A staff account without superuser rights holding exactly these model
    permissions ("app_label.codename"): admin's notion of who may do what."""
    from django.contrib.auth.models import Permission

    user = UserFactory(is_staff=True, **fields)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user
