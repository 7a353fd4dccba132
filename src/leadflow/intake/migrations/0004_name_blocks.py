import django.db.models.deletion
from django.db import migrations, models

from leadflow.core.normalize import search_words

BATCH = 5000


def name_blocks(name):
    """The check's blocking keys as of this migration (frozen here, as migrations are)."""
    words = [w for w in search_words(name).split() if len(w) >= 2][:4]
    if len(words) == 1:
        return [f"{words[0]}|"]
    return sorted({f"{exact}|{other[0]}" for i, exact in enumerate(words)
                   for j, other in enumerate(words) if i != j})


def block_checked_leads(apps, schema_editor):
    """Blocks for the leads checked before blocks existed, so new leads meet them; in
    batches by id, and again from the start on a re-run (rows already there are skipped)."""
    Lead = apps.get_model("crm", "Lead")
    NameBlock = apps.get_model("intake", "NameBlock")
    last = 0
    while True:
        rows = list(Lead.objects.filter(pk__gt=last, duplicates_checked_at__isnull=False,
                                        merged_into__isnull=True)
                    .order_by("pk").values_list("pk", "project_id", "name")[:BATCH])
        if not rows:
            return
        NameBlock.objects.bulk_create(
            [NameBlock(project_id=project_id, block=block, lead_id=pk)
             for pk, project_id, name in rows for block in name_blocks(name)],
            ignore_conflicts=True)
        last = rows[-1][0]


class Migration(migrations.Migration):

    dependencies = [
        ('crm', '0009_partial_indexes'),
        ('intake', '0003_submission_source'),
        ('projects', '0005_field_definitions'),
    ]

    operations = [
        migrations.CreateModel(
            name='NameBlock',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('block', models.CharField(max_length=110)),
                ('lead', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='crm.lead')),
                ('project', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='projects.project')),
            ],
            options={
                'indexes': [models.Index(fields=['project', 'block', 'lead'], name='nameblock_block')],
                'constraints': [models.UniqueConstraint(fields=('lead', 'block'), name='nameblock_lead_block')],
            },
        ),
        migrations.RunPython(block_checked_leads, migrations.RunPython.noop),
    ]
