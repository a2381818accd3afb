"""Who deactivated an account, so an admin's deactivation holds against the identity
provider's reactivation (issue 8, finding 4); existing deactivated accounts take it
from the audit trail's last `user.deactivated` event."""

from django.db import migrations, models

ACTOR_KINDS = [
    ("admin", "Admin user"),
    ("scim", "SCIM token"),
    ("idp", "Identity provider"),
    ("system", "System"),
    ("person", "The person themself (self-service)"),
]


def deactivated_by_from_audit(apps, schema_editor):
    User = apps.get_model("users", "User")
    AuditEvent = apps.get_model("users", "AuditEvent")
    for pk in User.objects.filter(is_active=False).values_list("pk", flat=True).iterator():
        last = (
            AuditEvent.objects.filter(
                action="user.deactivated", target_type="user", target_id=str(pk)
            )
            .order_by("-created_at", "-id")
            .values_list("actor_kind", flat=True)
            .first()
        )
        if last:
            User.objects.filter(pk=pk).update(deactivated_by=last)


class Migration(migrations.Migration):
    dependencies = [
        ("users", "0005_actor_kind_person"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="deactivated_by",
            field=models.CharField(
                blank=True, choices=ACTOR_KINDS, default="", editable=False, max_length=10
            ),
        ),
        migrations.AddField(
            model_name="user",
            name="idp_may_reactivate",
            field=models.BooleanField(
                default=False,
                help_text="An admin deactivated this account: let the identity provider "
                "(SCIM active: true) reactivate it.",
                verbose_name="identity provider may reactivate",
            ),
        ),
        migrations.RunPython(deactivated_by_from_audit, migrations.RunPython.noop),
    ]
