"""Background jobs of intake: thin adapters that fetch rows again and call services."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task


@db_task()
def check_possible_duplicates(lead_id: int) -> None:
    from leadflow.crm.models import Lead
    from leadflow.intake.services.duplicates import find_possible_duplicates

    lead = Lead.objects.filter(pk=lead_id).first()
    if lead is not None:
        find_possible_duplicates(lead)


@db_task()
def check_possible_duplicates_of(lead_ids: list[int]) -> None:
    from leadflow.crm.models import Lead
    from leadflow.intake.services.duplicates import find_possible_duplicates

    for lead in Lead.objects.filter(pk__in=lead_ids).order_by("pk"):
        find_possible_duplicates(lead)


@db_periodic_task(crontab(minute="*"))
def sweep() -> None:
    from leadflow.sweeps import run_sweeps

    run_sweeps()


@db_periodic_task(crontab(minute="17"))
def hourly_sweep() -> None:
    from leadflow.sweeps import run_hourly_sweeps

    run_hourly_sweeps()
