"""Every existing project gets the default lost reasons and call outcomes new projects start
with; a project that has entries already keeps them untouched."""

from django.db import migrations

LOST_REASONS = [
    "Not interested",
    "Chose a competitor",
    "Too expensive",
    "No budget",
    "Unreachable",
    "Bad contact details",
    "Duplicate",
    "Other",
]

CALL_OUTCOMES = ["Answered", "No answer", "Voicemail", "Busy", "Wrong number", "Call back later"]


def seed(apps, schema_editor):
    Project = apps.get_model("projects", "Project")
    for model_name, names in (("LostReason", LOST_REASONS), ("CallOutcome", CALL_OUTCOMES)):
        model = apps.get_model("projects", model_name)
        for project_id in Project.objects.values_list("pk", flat=True):
            if model.objects.filter(project_id=project_id).exists():
                continue
            model.objects.bulk_create(
                [model(project_id=project_id, name=n, position=i + 1) for i, n in enumerate(names)]
            )


class Migration(migrations.Migration):
    dependencies = [("projects", "0003_stage_retired_lost_reasons_call_outcomes")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
