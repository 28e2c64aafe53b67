"""Absences recorded for a person (lottery.absences): their count and the last one's time."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_audit_chain"),
    ]

    operations = [
        migrations.AddField(
            model_name="person",
            name="absences",
            field=models.PositiveSmallIntegerField(db_default=0, default=0, editable=False),
        ),
        migrations.AddField(
            model_name="person",
            name="last_absence_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
    ]
