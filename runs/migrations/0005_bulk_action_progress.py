# Bulk actions record where they stopped and when they last moved, so that the
# beat sweep can hand a stalled one to another worker (runs.engine.bulk).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("runs", "0004_stored_packets"),
    ]

    operations = [
        migrations.AddField(
            model_name="bulkaction",
            name="cursor",
            field=models.CharField(blank=True, default="", max_length=40),
        ),
        migrations.AddField(
            model_name="bulkaction",
            name="progress_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
