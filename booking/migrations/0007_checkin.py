"""Check-in at the desk (booking.checkin): when, at which desk and by whom an appointment was
checked in, with a check that a check-in always records the first two; and each window's
published absence rule (lottery.services.entry_rules).

Existing windows get the rule off whatever ABSENCE_LOWERS_WEIGHT says when this runs: their
announcements were published without it. Only windows created afterwards take the setting."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import booking.models


class Migration(migrations.Migration):
    dependencies = [
        ("booking", "0006_duplicate_review"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="appointment",
            name="checked_in_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="appointment",
            name="checked_in_by",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="appointment",
            name="checkin_desk",
            field=models.CharField(blank=True, db_default="", editable=False, max_length=20),
        ),
        migrations.AddConstraint(
            model_name="appointment",
            constraint=models.CheckConstraint(
                condition=~models.Q(state="checked_in")
                | (models.Q(checked_in_at__isnull=False) & ~models.Q(checkin_desk="")),
                name="appointment_checkin_recorded",
            ),
        ),
        migrations.AddField(
            model_name="window",
            name="absence_lowers_weight",
            field=models.BooleanField(db_default=False, default=False, editable=False),
        ),
        migrations.AlterField(
            model_name="window",
            name="absence_lowers_weight",
            field=models.BooleanField(
                db_default=False, default=booking.models.absence_rule_default, editable=False
            ),
        ),
    ]
