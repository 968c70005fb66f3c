# The nightly run record now belongs to the pipeline app (pipeline 0001 took its table).

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('warnings', '0001_initial'),
        ('pipeline', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='NightlyRun')],
            database_operations=[],
        ),
    ]
