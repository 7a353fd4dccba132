"""Ann Lee, a person held in many ways in one project, for the privacy tests."""

from __future__ import annotations

from leadflow.accounts.models import Notification
from leadflow.accounts.services import notify
from leadflow.activities.services import log_activity
from leadflow.clients.models import Client
from leadflow.crm import services as crm_services
from leadflow.crm.contact import LeadInput
from leadflow.crm.models import Lead
from leadflow.imports.models import Import, ImportRejection
from leadflow.intake.models import PossibleDuplicate, Submission
from leadflow.jobs.models import Job
from leadflow.privacy.models import Erasure
from leadflow.tags.services import create_tag, tag_leads_directly
from leadflow.timeline.models import TimelineEvent
from tests.factories import (
    SYSTEM,
    convert,
    make_bucket,
    make_lead,
    make_list,
    make_project,
    make_user,
    put_on_list,
    submit,
)

EMAIL = "ann.lee@example.com"
PHONE = "+12125550100"
# Every form in which the person's data could linger.
TRACES = [EMAIL, "annie.lee@example.com", PHONE, "2125550100", "+12125550199",
          "+12125550177", "Ann Lee", "Annie Lee", "Ann asked for a callback"]


class AnnsWorld:
    """Ann Lee, held in many ways in one project, beside Bob (another person) and an Ann of
    another project who must stay."""

    def __init__(self):
        self.project = make_project(default_region="US")
        self.admin = make_user(admin=True)
        self.manager = make_user(self.project, "manager")
        self.agent = make_user(self.project, "agent")
        bucket, _key = make_bucket(self.project)
        # Intake: Ann's lead, her duplicate and a rejected submission with her e-mail.
        first = submit(bucket, {"name": "Ann Lee", "email": "Ann.Lee@Example.com",
                                "phone": "(212) 555-0100"})
        self.lead = Lead.objects.get(pk=first.lead_id)
        self.duplicate = submit(bucket, {"name": "Ann Lee", "email": EMAIL})
        self.rejected = submit(bucket, {"name": "Ann Lee", "email": EMAIL, "phone": "12"})
        # A second lead of hers with non-canonical keys, and a third merged into the first.
        self.kept_both = crm_services.create_lead(
            self.project, LeadInput(name="Ann Lee", email=EMAIL, phones=["+12125550177"]),
            actor=SYSTEM, on_duplicate="keep_both").lead
        merged = make_lead(self.project, name="Annie Lee", email="annie.lee@example.com",
                           phones=["+12125550199"])
        crm_services.merge_leads(merged, self.lead, actor=SYSTEM)
        self.merged = merged
        log_activity(self.lead, "note", actor=SYSTEM, body="Ann asked for a callback")
        create_tag(self.project, "vip", actor=SYSTEM)
        tag_leads_directly(self.lead, actor=SYSTEM, add=["vip"])
        self.list = make_list(self.project)
        put_on_list(self.list, self.lead)
        self.client = convert(self.lead)
        notify([self.manager.pk], "lead_assigned", "Ann Lee was assigned to you",
               project_id=self.project.pk, lead_id=self.lead.pk)
        # Bob, who stays, in a possible-duplicate pair with Ann.
        self.bob = make_lead(self.project, name="Bob Stone", email="bob@example.com",
                             phones=["+12125550111"])
        PossibleDuplicate.objects.create(project=self.project, lead_a=self.lead,
                                         lead_b=self.bob, score=0.9, reason="Similar names")
        notify([self.manager.pk], "lead_assigned", "Bob Stone was assigned to you",
               project_id=self.project.pk, lead_id=self.bob.pk)
        # A rejected import row with her e-mail, and one with Bob's.
        job = Job.objects.create(kind="import", project=self.project, state="done",
                                 errors=[{"row": 2, "reason": "Name is required."},
                                         {"row": 3, "reason": "Name is required."}])
        run = Import.objects.create(job=job, project=self.project, filename="leads.csv",
                                    stored_name="x.csv", file_format="csv")
        ImportRejection.objects.create(import_run=run, row_number=2,
                                       cells=["", "ANN.LEE@example.com"],
                                       reason="Name is required.")
        ImportRejection.objects.create(import_run=run, row_number=3,
                                       cells=["", "bob@example.com"],
                                       reason="Name is required.")
        self.job = job
        self.ann_ids = sorted([self.lead.pk, self.kept_both.pk, self.merged.pk])

    def state(self) -> tuple:
        return (list(Lead.objects.order_by("pk").values()),
                list(Client.objects.order_by("pk").values()),
                list(Submission.objects.order_by("pk").values()),
                TimelineEvent.objects.count(), Notification.objects.count(),
                ImportRejection.objects.count(), Erasure.objects.count())
