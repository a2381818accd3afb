from django.db import migrations, models
from django.db.models.functions import Cast


def hire_dates_to_midnight_utc(apps, schema_editor):
    # Django runs PostgreSQL sessions in UTC, so a date cast to timestamptz is
    # midnight UTC: what a hire date without a time has always meant here.
    User = apps.get_model("users", "User")
    User.objects.filter(hire_date__isnull=False).update(
        hired_at=Cast("hire_date", models.DateTimeField())
    )


class Migration(migrations.Migration):
    dependencies = [
        ("users", "0008_unmapped_attribute"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="hired_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(hire_dates_to_midnight_utc, migrations.RunPython.noop),
    ]
