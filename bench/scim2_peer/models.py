from django.contrib.auth.models import AbstractUser
from django.db import models
from django_scim.models import AbstractSCIMGroupMixin, AbstractSCIMUserMixin


class Group(AbstractSCIMGroupMixin):
    """django-scim2's documented setup: the SCIM group mixin on the project's group."""

    name = models.CharField(max_length=150, unique=True)

    def __str__(self) -> str:
        return self.name


class User(AbstractSCIMUserMixin, AbstractUser):
    """django-scim2's documented setup: the SCIM user mixin on the project's user."""

    memberships = models.ManyToManyField(Group, blank=True, related_name="members")

    @property
    def scim_groups(self):
        return self.memberships


class Token(models.Model):
    """A SCIM client's bearer token, stored as its SHA-256 (hex)."""

    digest = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE)

    def __str__(self) -> str:
        return f"token of {self.user_id}"
