# Fewer round trips and lighter writes per run (docs/benchmarks.md, issue 9):
# - dispatch requests left for the pass holding an environment's lock;
# - queue names long enough for "task/" and a 128-character task id;
# - runs_run loses the 13 indexes others make redundant: the foreign-key indexes
#   whose column leads a composite index, run_batch (the unique run_batch_index
#   covers it), and every varchar_pattern_ops "_like" copy, which only serves
#   LIKE 'prefix%' and no query filters run ids that way. root_run and
#   replayed_from keep a plain index, partial because most runs have neither.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('apikeys', '0001_initial'),
        ('runs', '0005_bulk_action_progress'),
    ]

    operations = [
        migrations.CreateModel(
            name='DispatchRequest',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
            ],
        ),
        migrations.RemoveIndex(
            model_name='run',
            name='run_batch',
        ),
        migrations.AlterField(
            model_name='queue',
            name='name',
            field=models.CharField(max_length=200),
        ),
        migrations.AlterField(
            model_name='run',
            name='batch',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, to='runs.batch'),
        ),
        migrations.AlterField(
            model_name='run',
            name='bulk_action',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, to='runs.bulkaction'),
        ),
        migrations.AlterField(
            model_name='run',
            name='environment',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, to='apikeys.environment'),
        ),
        migrations.AlterField(
            model_name='run',
            name='parent_run',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='children', to='runs.run'),
        ),
        migrations.AlterField(
            model_name='run',
            name='replayed_from',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='replays', to='runs.run'),
        ),
        migrations.AlterField(
            model_name='run',
            name='root_run',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='runs.run'),
        ),
        migrations.AlterField(
            model_name='run',
            name='schedule',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, to='runs.schedule'),
        ),
        migrations.AddIndex(
            model_name='run',
            index=models.Index(condition=models.Q(('root_run__isnull', False)), fields=['root_run'], name='run_root'),
        ),
        migrations.AddIndex(
            model_name='run',
            index=models.Index(condition=models.Q(('replayed_from__isnull', False)), fields=['replayed_from'], name='run_replayed_from'),
        ),
        migrations.AddField(
            model_name='dispatchrequest',
            name='environment',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, to='apikeys.environment'),
        ),
        # Django keeps this copy for a CharField primary key; nothing declares it.
        migrations.RunSQL(
            'DROP INDEX IF EXISTS "runs_run_id_b8683289_like"',
            'CREATE INDEX "runs_run_id_b8683289_like" ON "runs_run" ("id" varchar_pattern_ops)',
        ),
    ]
