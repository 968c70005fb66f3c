# The nightly run record moves here from the warnings app; its table stays as it is, only
# Django's idea of which app owns it changes (warnings 0002 lets go of it).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('core', '0002_district_risk_capacity_district_warning_rules'),
        ('warnings', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='NightlyRun',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('as_of', models.DateField()),
                        ('started_at', models.DateTimeField(auto_now_add=True)),
                        ('finished_at', models.DateTimeField(blank=True, null=True)),
                        ('status', models.CharField(choices=[('running', 'Running'), ('succeeded', 'Succeeded'), ('failed', 'Failed')], default='running', max_length=20)),
                        ('steps', models.JSONField(default=list, help_text='[{step, status, counts, seconds}]')),
                        ('error', models.TextField(blank=True)),
                        ('district', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='core.district')),
                    ],
                    options={'db_table': 'warnings_nightlyrun'},
                ),
            ],
            database_operations=[],
        ),
        # Now the table takes the owning app's name, as every other table does.
        migrations.AlterModelTable(name='NightlyRun', table=None),
    ]
