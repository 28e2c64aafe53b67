# Duplicate review: a supervisor's decision on each DuplicateFlag before the freeze, and the
# freeze's time on the window (written by the draw, read by booking.duplicates). The flag's
# unused `reviewed_at` becomes `decided_at`.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('booking', '0005_partner_key'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='window',
            name='frozen_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RenameField(
            model_name='duplicateflag',
            old_name='reviewed_at',
            new_name='decided_at',
        ),
        migrations.AddField(
            model_name='duplicateflag',
            name='decision',
            field=models.CharField(blank=True, choices=[('keep_both', 'Kept both: two different people'), ('withdraw', 'One entry withdrawn')], default='', max_length=16),
        ),
        migrations.AddField(
            model_name='duplicateflag',
            name='decided_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='duplicateflag',
            name='withdrawn_entry',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='booking.entry'),
        ),
        migrations.AddField(
            model_name='duplicateflag',
            name='note',
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AddConstraint(
            model_name='duplicateflag',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('decided_at__isnull', True), ('decided_by__isnull', True), ('decision', ''), ('withdrawn_entry__isnull', True)), models.Q(('decided_at__isnull', False), ('decided_by__isnull', False), ('decision', 'keep_both'), ('withdrawn_entry__isnull', True)), models.Q(('decided_at__isnull', False), ('decided_by__isnull', False), ('decision', 'withdraw'), ('withdrawn_entry__isnull', False)), _connector='OR'), name='duplicate_flag_decision_complete'),
        ),
    ]
