"""Forms of the web UI. They check types only (a number is a number, a choice is one of the
offered ones); every rule of the domain is the services' and comes back as ValidationFailed."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.urls import reverse
from django.utils import timezone

from leadflow.accounts import services as account_services
from leadflow.accounts.models import Role, User
from leadflow.core.clientaddress import client_address
from leadflow.core.errors import RateLimited, Unauthenticated
from leadflow.crm.contact import LeadInput
from leadflow.crm.filters import ORDERINGS, LeadFilters
from leadflow.intake.filters import SUBMISSION_ORDERINGS, SubmissionFilters
from leadflow.intake.models import SubmissionStatus
from leadflow.projects.access import active_lost_reasons, projects_visible_to
from leadflow.projects.fields import definitions_of
from leadflow.projects.models import (
    OPEN_STATUSES,
    DuplicateScope,
    FieldDefinition,
    FieldType,
    Pool,
    Source,
    Stage,
    Status,
)

ORDERING_LABELS = {
    "-created_at": "Newest first",
    "created_at": "Oldest first",
    "next_call_at": "Next call",
    "-last_activity_at": "Latest activity",
    "name": "Name",
}
CONTACT_FIELDS = ("name", "email", "phones", "company", "timezone", "country", "language")


def _grouped(rows, projects, label=str):
    """Select choices, grouped by project when the user sees several."""
    if len(projects) <= 1:
        return [(row.pk, label(row)) for row in rows]
    groups: dict[int, list] = {}
    for row in rows:
        groups.setdefault(row.project_id, []).append((row.pk, label(row)))
    return [(p.name, groups[p.pk]) for p in projects if p.pk in groups]


def split_phones(text: str) -> list[str]:
    return [p.strip() for line in (text or "").splitlines() for p in line.split(",") if p.strip()]


# --- custom fields ---------------------------------------------------------------------------

CUSTOM_PREFIX = "custom__"
BOOLEAN_CHOICES = [("", "—"), ("true", "Yes"), ("false", "No")]


def custom_form_field(definition: FieldDefinition) -> forms.Field:
    """A typed input for a custom field. It checks nothing: the services judge the value (and
    whether it is required) and their errors come back onto the field."""
    label = definition.label + ("" if definition.nullable else " *")
    kind = definition.type
    if kind == FieldType.BOOLEAN:
        return forms.ChoiceField(required=False, label=label, choices=BOOLEAN_CHOICES)
    if kind == FieldType.CHOICE:
        return forms.ChoiceField(required=False, label=label, choices=[("", "—")] + [
            (c, c) for c in definition.choices])
    attrs = {
        FieldType.NUMBER: {"type": "number", "step": "1", "inputmode": "numeric"},
        FieldType.DECIMAL: {"type": "number", "step": "any", "inputmode": "decimal"},
        FieldType.DATE: {"type": "date"},
        FieldType.EMAIL: {"type": "email"},
        FieldType.PHONE: {"type": "tel"},
    }.get(kind, {})
    return forms.CharField(required=False, label=label, widget=forms.TextInput(attrs=attrs),
                           max_length=1000)


def add_custom_fields(form: forms.Form, definitions) -> None:
    """Give `form` one typed input per custom field, named `custom__<name>`."""
    form.definitions = list(definitions)
    for definition in form.definitions:
        form.fields[CUSTOM_PREFIX + definition.name] = custom_form_field(definition)


def custom_values(form: forms.Form) -> dict:
    """The custom values typed in or changed (blank: cleared), by field name. Untouched
    fields are left out, so a lead keeps a value no one edited."""
    changed = set(form.changed_data)
    return {d.name: form.cleaned_data.get(CUSTOM_PREFIX + d.name, "")
            for d in getattr(form, "definitions", []) if CUSTOM_PREFIX + d.name in changed}


def custom_initial(lead, definitions) -> dict:
    """A lead's custom values as the typed inputs show them."""
    initial = {}
    for definition in definitions:
        value = (lead.custom or {}).get(definition.name)
        if isinstance(value, bool):
            value = "true" if value else "false"
        initial[CUSTOM_PREFIX + definition.name] = "" if value is None else str(value)
    return initial


# --- leads -----------------------------------------------------------------------------------


class LeadFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search")  # rendered by hand: it has its own trigger
    project = forms.IntegerField(required=False, widget=forms.Select)
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *Status.choices])
    stage = forms.IntegerField(required=False, widget=forms.Select)
    source = forms.IntegerField(required=False, widget=forms.Select)
    owner = forms.IntegerField(required=False, widget=forms.Select)
    pool = forms.IntegerField(required=False, widget=forms.Select)
    tag = forms.CharField(required=False, max_length=100, label="Tag")
    list = forms.IntegerField(required=False, widget=forms.Select, label="List")
    unassigned = forms.BooleanField(required=False, label="Unassigned only")
    fresh = forms.BooleanField(required=False, label="Fresh leads (mine)")
    created_after = forms.DateField(
        required=False, label="Created from", widget=forms.DateInput(attrs={"type": "date"})
    )
    created_before = forms.DateField(
        required=False, label="Created until", widget=forms.DateInput(attrs={"type": "date"})
    )
    ordering = forms.ChoiceField(
        required=False, label="Sort",
        choices=[(key, ORDERING_LABELS.get(key, key)) for key in ORDERINGS],
    )

    def load_choices(self, actor) -> None:
        """Fill the selects; only the full page needs them, so the partial skips these reads."""
        projects = list(projects_visible_to(actor))
        ids = [p.pk for p in projects]
        stages = Stage.objects.filter(project_id__in=ids).order_by("project_id", "position", "id")
        sources = Source.objects.filter(project_id__in=ids).order_by("project_id", "name")
        pools = Pool.objects.filter(project_id__in=ids).order_by(
            "project_id", "-is_default", "name"
        )
        owners = User.objects.filter(memberships__project_id__in=ids).distinct()
        owners = owners.order_by("email")
        self.fields["project"].widget.choices = [("", "All projects")] + [
            (p.pk, p.name) for p in projects
        ]
        self.fields["stage"].widget.choices = [("", "Any stage"), *_grouped(stages, projects)]
        self.fields["source"].widget.choices = [("", "Any source"), *_grouped(sources, projects)]
        self.fields["pool"].widget.choices = [("", "Any pool"), *_grouped(pools, projects)]
        self.fields["owner"].widget.choices = [("", "Any owner")] + [
            (u.pk, u.label) for u in owners
        ]
        from leadflow.lists.access import lists_visible_to

        lead_lists = lists_visible_to(actor).filter(project_id__in=ids).order_by(
            "project_id", "name")
        self.fields["list"].widget.choices = [("", "Any list"), *_grouped(lead_lists, projects)]
        self.show_project = len(projects) > 1

    def to_filters(self, user=None) -> LeadFilters:
        """The valid part of the query as lead filters; invalid fields are left out (and shown).
        Fresh leads are the caller's own: `fresh` also narrows to `user` as owner."""
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        values = {
            key: data.get(key) or None
            for key in ("q", "project", "status", "stage", "source", "owner", "pool", "tag",
                        "list")
        }
        fresh = bool(data.get("fresh")) and user is not None
        if fresh:
            values["owner"] = user.pk
        return LeadFilters(
            **values,
            unassigned=True if data.get("unassigned") else None,
            fresh=True if fresh else None,
            created_after=_start_of(data.get("created_after")),
            created_before=_start_of(data.get("created_before"), days_after=1),
            ordering=data.get("ordering") or "-created_at",
        )


def _start_of(day, days_after: int = 0) -> datetime | None:
    if day is None:
        return None
    return timezone.make_aware(datetime.combine(day + timedelta(days=days_after), time.min))


class ContactForm(forms.Form):
    """Contact fields of a lead, as typed."""

    name = forms.CharField(required=False)
    email = forms.CharField(required=False, label="E-mail",
                            widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    phones = forms.CharField(
        required=False, label="Phones", help_text="One per line, up to 5.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    company = forms.CharField(required=False)
    timezone = forms.CharField(
        required=False, label="Time zone", widget=forms.TextInput(attrs={
            "placeholder": "Europe/Paris"})
    )
    country = forms.CharField(
        required=False, widget=forms.TextInput(attrs={"placeholder": "FR", "size": 4})
    )
    language = forms.CharField(
        required=False, widget=forms.TextInput(attrs={"placeholder": "fr", "size": 6})
    )

    def __init__(self, *args, definitions=(), **kwargs):
        super().__init__(*args, **kwargs)
        add_custom_fields(self, definitions)

    def contact(self) -> dict:
        """Contact values and `custom`: the custom fields typed in or changed (a blank one
        clears the value)."""
        data = {key: self.cleaned_data.get(key, "") for key in CONTACT_FIELDS}
        data["phones"] = split_phones(data["phones"])
        custom = custom_values(self)
        if custom:
            data["custom"] = custom
        return data

    def custom_fields(self) -> list:
        return [self[CUSTOM_PREFIX + d.name] for d in self.definitions]

    @staticmethod
    def initial_from(lead, definitions=()) -> dict:
        initial = {key: getattr(lead, key) for key in CONTACT_FIELDS}
        initial["phones"] = "\n".join(lead.phones)
        initial.update(custom_initial(lead, definitions))
        return initial


class LeadCreateForm(ContactForm):
    """Contact fields plus the source and, for lead managers, the owner."""

    source = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    owner = forms.TypedChoiceField(coerce=int, required=False, empty_value=None,
                                   label="Assigned to")
    on_duplicate = forms.ChoiceField(
        required=False, choices=[("reject", ""), ("merge", ""), ("keep_both", "")],
        widget=forms.HiddenInput,
    )

    def __init__(self, *args, project, manages: bool, **kwargs):
        kwargs.setdefault("definitions", definitions_of(project.pk))
        super().__init__(*args, **kwargs)
        self.sources = {s.pk: s for s in Source.objects.filter(project=project).order_by("name")}
        self.fields["source"].choices = [("", "Manual (default)")] + [
            (s.pk, s.name) for s in self.sources.values()
        ]
        self.owners: dict[int, User] = {}
        if manages:
            pool = Pool.objects.filter(project=project, is_default=True).first()
            members = pool.members.order_by("email") if pool else User.objects.none()
            self.owners = {u.pk: u for u in members}
            self.fields["owner"].choices = [("", "Nobody (stays in the pool)")] + [
                (u.pk, u.label) for u in self.owners.values()
            ]
        else:
            del self.fields["owner"]

    def resubmit_values(self) -> list[tuple[str, str]]:
        """The values as typed, to send again with a duplicate choice (phones on one line)."""
        values = []
        for name in self.fields:
            if name == "on_duplicate":
                continue
            value = self.data.get(name, "")
            if name == "phones":
                value = ", ".join(split_phones(value))
            values.append((name, value))
        return values

    def lead_input(self) -> LeadInput:
        data = self.contact()
        custom = {k: v for k, v in data.pop("custom", {}).items() if v not in ("", None)}
        return LeadInput(**data, custom=custom)

    def chosen_source(self) -> Source | None:
        return self.sources.get(self.cleaned_data.get("source"))

    def chosen_owner(self) -> User | None:
        return self.owners.get(self.cleaned_data.get("owner"))


class StageForm(forms.Form):
    """Move a lead: the stages in use (and the lead's current one, even if retired); Lost takes
    one of the project's active lost reasons."""

    stage = forms.TypedChoiceField(coerce=int)
    lost_reason = forms.ChoiceField(required=False, label="Lost reason")
    reason = forms.CharField(required=False, label="Note")

    def __init__(self, *args, project_id: int, current_id: int | None = None,
                 stages: list[Stage] | None = None, lost_reasons: list[str] | None = None,
                 **kwargs):
        super().__init__(*args, **kwargs)
        if stages is None:
            stages = list(Stage.objects.filter(project_id=project_id).order_by("position", "id"))
        stages = [s for s in stages if not s.retired or s.pk == current_id]
        self.stages = {s.pk: s for s in stages}
        self.fields["stage"].choices = [(s.pk, s.name) for s in stages]
        self.lost_ids = [s.pk for s in stages if s.status == Status.LOST]
        if lost_reasons is None:
            lost_reasons = [r.name for r in active_lost_reasons(project_id)]
        self.fields["lost_reason"].choices = [("", "—")] + [(n, n) for n in lost_reasons]

    def chosen_stage(self) -> Stage:
        return self.stages[self.cleaned_data["stage"]]


# --- configuration ---------------------------------------------------------------------------


class ProjectForm(forms.Form):
    name = forms.CharField(required=False)
    slug = forms.CharField(required=False, help_text="Left empty, made from the name.")
    default_region = forms.CharField(
        required=False, label="Default region", initial="US",
        help_text="ISO country code used to read national phone numbers.",
        widget=forms.TextInput(attrs={"size": 4}),
    )


class MemberAddForm(forms.Form):
    email = forms.CharField(label="E-mail of an existing user")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.AGENT)

    def clean_email(self):
        # Finding the user is a lookup, not a rule: no such user is a plain form error.
        email = self.cleaned_data["email"].strip().lower()
        self.user = User.objects.filter(email=email).first()
        if self.user is None:
            raise forms.ValidationError("No user has this e-mail; an admin creates users.")
        return email


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class SourceForm(forms.Form):
    name = forms.CharField(required=False)
    target_user = forms.TypedChoiceField(coerce=int, required=False, empty_value=None,
                                         label="Fixed target user")
    acceptance_minutes = forms.IntegerField(required=False, label="Acceptance period (minutes)")
    form_enabled = forms.BooleanField(required=False, label="Public form enabled")
    form_bucket = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=None, label="Form bucket",
        help_text="The active bucket the public form's submissions go to.",
    )

    def __init__(self, *args, members, buckets, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target_user"].choices = [("", "Nobody (normal routing)")] + [
            (u.pk, u.label) for u in members
        ]
        self.fields["form_bucket"].choices = [("", "No bucket (form off)")] + [
            (b.pk, b.name if b.active else f"{b.name} (inactive)") for b in buckets
        ]


class PoolForm(forms.Form):
    name = forms.CharField(required=False)
    members = forms.TypedMultipleChoiceField(
        coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, members, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["members"].choices = [(u.pk, u.label) for u in members]


OPEN_STATUS_CHOICES = [(s.value, s.label) for s in OPEN_STATUSES]


class StageAddForm(forms.Form):
    name = forms.CharField(required=False)
    status = forms.ChoiceField(choices=OPEN_STATUS_CHOICES, initial=Status.NOT_CONTACTED)


class StageEditForm(forms.Form):
    name = forms.CharField(required=False)
    status = forms.ChoiceField(choices=OPEN_STATUS_CHOICES, required=False)


class FieldDefinitionForm(forms.Form):
    """A custom field as a manager defines it; `name` only when it is created."""

    name = forms.CharField(required=False, help_text="The key in the API and in intake "
                           "payloads: lower-case letters, digits and _. It never changes.")
    label = forms.CharField(required=False, help_text="Left empty, made from the name.")
    type = forms.ChoiceField(choices=FieldType.choices, initial=FieldType.TEXT)
    choices = forms.CharField(required=False, label="Choices",
                              help_text="For a choice field: one per line.",
                              widget=forms.Textarea(attrs={"rows": 3}))
    required = forms.BooleanField(required=False, label="Required when a lead is created")
    unique = forms.BooleanField(required=False, label="Unique: a lead with the same value is "
                                "a duplicate")
    primary_key = forms.BooleanField(required=False, label="Part of the primary key: leads "
                                     "with the same values in all its fields are duplicates")
    position = forms.IntegerField(required=False, min_value=1, max_value=10_000)

    def __init__(self, *args, creating: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not creating:
            del self.fields["name"]
        else:
            del self.fields["position"]

    @staticmethod
    def initial_from(definition) -> dict:
        return {"label": definition.label, "type": definition.type,
                "choices": "\n".join(definition.choices), "required": not definition.nullable,
                "unique": definition.unique, "primary_key": definition.primary_key,
                "position": definition.position}

    def options(self) -> dict:
        """The service's options: label, type, choices, nullable, unique, primary_key and,
        when given, position."""
        data = self.cleaned_data
        options = {
            "label": data["label"], "type": data["type"],
            "choices": [c.strip() for c in data["choices"].splitlines() if c.strip()],
            "nullable": not data["required"], "unique": data["unique"],
            "primary_key": data["primary_key"],
        }
        if data.get("position"):
            options["position"] = data["position"]
        return options


class StageMoveForm(forms.Form):
    direction = forms.ChoiceField(choices=[("up", "Up"), ("down", "Down")])


class SettingsForm(forms.Form):
    retirement_days = forms.IntegerField(label="Retire leads idle for (days)")
    claim_hours = forms.IntegerField(label="Claim window (hours)")
    offer_minutes = forms.IntegerField(label="Offer acceptance period (minutes)")
    duplicate_scope = forms.ChoiceField(choices=DuplicateScope.choices,
                                        label="Duplicates are checked")
    email_ignore_plus = forms.BooleanField(required=False,
                                           label="Ignore +tags in e-mail addresses")
    email_ignore_gmail_dots = forms.BooleanField(required=False,
                                                 label="Ignore dots in Gmail addresses")


class UserCreateForm(forms.Form):
    email = forms.CharField(required=False, label="E-mail")
    name = forms.CharField(required=False)
    password = forms.CharField(required=False, widget=forms.PasswordInput,
                               help_text="Left empty, the user cannot log in yet.")
    is_admin = forms.BooleanField(required=False, label="Admin (everything, everywhere)")


class UserEditForm(forms.Form):
    name = forms.CharField(required=False)
    is_admin = forms.BooleanField(required=False, label="Admin (everything, everywhere)")
    is_active = forms.BooleanField(required=False, label="Active (may log in)")
    password = forms.CharField(required=False, widget=forms.PasswordInput,
                               label="New password", help_text="Left empty, unchanged.")


# --- intake ----------------------------------------------------------------------------------


class BucketForm(forms.Form):
    name = forms.CharField(required=False)
    label = forms.CharField(
        required=False, help_text="Copied onto every lead of this bucket; left empty on a new "
        "bucket, its name.",
    )
    source = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    default_manager = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=None, label="Default manager",
        help_text="Owns the bucket's new leads; only a member of the project's default pool "
        "can, otherwise the leads stay unassigned.",
    )
    affiliate_id = forms.CharField(required=False, label="Affiliate ID")
    creates = forms.ChoiceField(
        required=False, initial="lead", label="Processing creates",
        choices=[("lead", "A lead"), ("client", "A client (the lead is converted at once)")],
    )
    active = forms.BooleanField(required=False, initial=True,
                                label="Active (accepts new submissions)")

    def __init__(self, *args, sources, members, in_pool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["source"].choices = [("", "Choose a source")] + [
            (s.pk, s.name) for s in sources
        ]
        # Intake gives the lead to the default manager only when they are in the default pool.
        self.fields["default_manager"].choices = [("", "Nobody (normal routing)")] + [
            (u.pk, u.label if u.pk in in_pool else f"{u.label} (not in the default pool)")
            for u in members
        ]

    def values(self, *, creating: bool) -> dict:
        """The service's keyword arguments; a new bucket without a label takes its name, and
        without a source gets the service's "choose a source" error."""
        data = dict(self.cleaned_data)
        if creating and not data["label"]:
            del data["label"]
        if creating and data["source"] is None:
            del data["source"]
        if not data.get("creates"):
            data.pop("creates", None)
        return data


SUBMISSION_ORDERING_LABELS = {"-created_at": "Newest first", "created_at": "Oldest first"}


class SubmissionFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search")  # rendered by hand, like the leads list
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *SubmissionStatus.choices]
    )
    manager = forms.IntegerField(required=False, widget=forms.Select)
    unassigned = forms.BooleanField(required=False, label="Only unassigned leads")
    created_after = forms.DateField(
        required=False, label="Registered from", widget=forms.DateInput(attrs={"type": "date"})
    )
    created_before = forms.DateField(
        required=False, label="Registered until", widget=forms.DateInput(attrs={"type": "date"})
    )
    ordering = forms.ChoiceField(
        required=False, label="Sort",
        choices=[(key, SUBMISSION_ORDERING_LABELS[key]) for key in SUBMISSION_ORDERINGS],
    )

    def load_choices(self, members) -> None:
        self.fields["manager"].widget.choices = [("", "Any manager")] + [
            (u.pk, u.label) for u in members
        ]

    def to_filters(self) -> SubmissionFilters:
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        return SubmissionFilters(
            q=data.get("q") or None,
            status=data.get("status") or None,
            manager=data.get("manager"),
            unassigned=True if data.get("unassigned") else None,
            created_after=_start_of(data.get("created_after")),
            created_before=_start_of(data.get("created_before"), days_after=1),
            ordering=data.get("ordering") or "-created_at",
        )


# --- ownership ---------------------------------------------------------------------------------


def _user_choices(users) -> list[tuple[int, str]]:
    return [(u.pk, u.label if u.label == u.email else f"{u.label} ({u.email})") for u in users]


def pool_members(pool_ids: int | list[int] | None) -> list[User]:
    """Active members of a pool (or of any of several), by e-mail."""
    if pool_ids is None:
        return []
    ids = [pool_ids] if isinstance(pool_ids, int) else pool_ids
    users = User.objects.filter(pools__pk__in=ids, is_active=True)
    if len(ids) > 1:
        users = users.distinct()
    return list(users.order_by("email"))


def _owner_refresh(target: str) -> dict:
    """htmx attributes of a pool select: choosing a pool reloads the owner choices."""
    return {"hx-get": reverse("work:pool_owner_options"), "hx-target": target,
            "hx-trigger": "change", "hx-swap": "innerHTML"}


class AssignForm(forms.Form):
    """Assign dialog: a pool of the lead's project and, optionally, one of its members."""

    pool = forms.TypedChoiceField(coerce=int, label="Pool")
    owner = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=None, label="Owner",
        error_messages={"invalid_choice": "That user is not a member of the chosen pool."},
    )
    note = forms.CharField(required=False, label="Note",
                           widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, pools, members, **kwargs):
        kwargs.setdefault("auto_id", "assign-%s")
        super().__init__(*args, **kwargs)
        self.pools = {p.pk: p for p in pools}
        self.members = {u.pk: u for u in members}
        self.fields["pool"].choices = [(p.pk, p.name) for p in self.pools.values()]
        self.fields["pool"].widget.attrs.update(_owner_refresh("#assign-owner"))
        self.fields["owner"].choices = [("", "Nobody (unowned in the pool)"),
                                        *_user_choices(self.members.values())]

    def chosen_pool(self):
        return self.pools[self.cleaned_data["pool"]]

    def chosen_owner(self) -> User | None:
        return self.members.get(self.cleaned_data.get("owner"))


class OfferForm(forms.Form):
    """Offer dialog. Recipients are offered in the order listed (the order of a sequence)."""

    recipients = forms.TypedMultipleChoiceField(coerce=int, required=False, label="Users",
                                                widget=forms.CheckboxSelectMultiple)
    offices = forms.TypedMultipleChoiceField(coerce=int, required=False, label="Offices",
                                             widget=forms.CheckboxSelectMultiple)
    groups = forms.TypedMultipleChoiceField(coerce=int, required=False, label="Groups",
                                            widget=forms.CheckboxSelectMultiple)
    mode = forms.ChoiceField(
        choices=[("all", "All at once"), ("sequence", "One after another")], initial="all",
        widget=forms.RadioSelect, label="Mode",
    )
    acceptance_minutes = forms.IntegerField(label="Minutes to accept", min_value=1)
    keep_original_owner = forms.BooleanField(required=False,
                                             label="Keep the current owner until someone accepts")
    note = forms.CharField(required=False, label="Note",
                           widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, members, offices, groups, **kwargs):
        kwargs.setdefault("auto_id", "offer-%s")
        super().__init__(*args, **kwargs)
        self.fields["recipients"].choices = _user_choices(members)
        self.fields["offices"].choices = [(o.pk, o.name) for o in offices]
        self.fields["groups"].choices = [(g.pk, g.name) for g in groups]

    def offer_args(self) -> dict:
        data = self.cleaned_data
        return {
            "recipients": data["recipients"], "offices": data["offices"],
            "groups": data["groups"], "mode": data["mode"],
            "acceptance_minutes": data["acceptance_minutes"],
            "keep_original_owner": data["keep_original_owner"], "note": data["note"],
        }


class IdListField(forms.Field):
    """Repeated integer values (checkboxes named alike); junk is a form error."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        if not value:
            return []
        try:
            return list(dict.fromkeys(int(v) for v in value))
        except (TypeError, ValueError):
            raise forms.ValidationError("Lead ids are numbers.", code="invalid")


class BulkLeadsForm(forms.Form):
    """The leads list's action bar: an action over the ticked leads (or the whole page)."""

    action = forms.ChoiceField(choices=[("assign", "Assign"), ("unassign", "Unassign"),
                                        ("route", "Route now"), ("tag", "Tag"),
                                        ("add_to_list", "Add to list"),
                                        ("add_to_campaign", "Add to campaign")])
    ids = IdListField(required=False)
    page_ids = IdListField(required=False)
    all_on_page = forms.BooleanField(required=False, label="Select all on page")
    all_matching = forms.BooleanField(required=False, label="Every lead matching the filter")
    pool = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, label="Pool")
    list = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, label="List")
    campaign = forms.TypedChoiceField(coerce=int, required=False, empty_value=None,
                                      label="Campaign")
    owner = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, label="Owner")
    note = forms.CharField(required=False, label="Note")
    add_tags = forms.CharField(required=False, label="Add tags", help_text="Comma-separated")
    remove_tags = forms.CharField(required=False, label="Remove tags",
                                  help_text="Comma-separated")

    def __init__(self, *args, pools, owners, lists=(), campaigns=(), **kwargs):
        kwargs.setdefault("auto_id", "bulk-%s")
        super().__init__(*args, **kwargs)
        self.fields["list"].choices = [("", "Choose a list"), *((x.pk, x.name) for x in lists)]
        self.fields["campaign"].choices = [("", "Choose a campaign"),
                                           *((x.pk, x.name) for x in campaigns)]
        self.fields["pool"].widget.attrs.update(_owner_refresh("#bulk-owner"))
        projects = {p.project_id: p.project for p in pools}
        self.fields["pool"].choices = [("", "Keep the pool"),
                                       *_grouped(pools, list(projects.values()))]
        self.fields["owner"].choices = [("", "Nobody (unowned in the pool)"),
                                        *_user_choices(owners)]

    def chosen_ids(self) -> list[int]:
        data = self.cleaned_data
        return data["page_ids"] if data.get("all_on_page") else data["ids"]

    def params(self) -> dict:
        data = self.cleaned_data
        if data["action"] == "tag":
            return {name: [n.strip() for n in data[f"{name}_tags"].split(",") if n.strip()]
                    for name in ("add", "remove")}
        if data["action"] == "add_to_list":
            return {"list": data.get("list")}
        if data["action"] == "add_to_campaign":
            return {"campaign": data.get("campaign")}
        if data["action"] != "assign":
            return {"reason": data["note"]} if data["note"] else {}
        params = {"owner": data.get("owner"), "note": data["note"]}
        if data.get("pool") is not None:
            params["pool"] = data["pool"]
        return params


class LeadMergeForm(forms.Form):
    into = forms.IntegerField(label="Merge into lead #", min_value=1)


class PairDecisionForm(forms.Form):
    keep = forms.ChoiceField(choices=[("older", "Keep older"), ("newer", "Keep newer")])


UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")


class PublicLeadForm(forms.Form):
    """The public web-to-lead form. Only lengths are checked here; the bucket's processing
    judges the values and its field errors come back onto these fields."""

    name = forms.CharField(required=False, max_length=200,
                           widget=forms.TextInput(attrs={"autocomplete": "name"}))
    email = forms.CharField(required=False, max_length=254, label="E-mail",
                            widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    phone = forms.CharField(required=False, max_length=40,
                            widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}))
    company = forms.CharField(required=False, max_length=200, widget=forms.TextInput(
        attrs={"autocomplete": "organization"}))
    message = forms.CharField(required=False, max_length=5000,
                              widget=forms.Textarea(attrs={"rows": 4}))
    # The honeypot: hidden from people by CSS, filled in by naive bots.
    website = forms.CharField(required=False, widget=forms.TextInput(
        attrs={"tabindex": "-1", "autocomplete": "off"}))

    def __init__(self, *args, utm=None, definitions=(), **kwargs):
        super().__init__(*args, **kwargs)
        for key in UTM_FIELDS:
            self.fields[key] = forms.CharField(
                required=False, max_length=200, widget=forms.HiddenInput,
                initial=(utm or {}).get(key, ""),
            )
        add_custom_fields(self, definitions)

    def custom_fields(self) -> list:
        return [self[CUSTOM_PREFIX + d.name] for d in self.definitions]

    def fields_for_submission(self) -> dict[str, str]:
        """The form's values, custom fields under their own names."""
        return {key.removeprefix(CUSTOM_PREFIX): (value or "").strip()
                for key, value in self.cleaned_data.items()}


class SignInForm(AuthenticationForm):
    """The login form, checked through the sign-in service: failed sign-ins are counted per
    account and per client address, and a waiting attempt is refused without checking the
    password (`retry_after` then holds the seconds to wait)."""

    retry_after: int | None = None

    def clean(self):
        email = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if email is not None and password:
            try:
                self.user_cache = account_services.sign_in(
                    email, password, address=client_address(self.request))
            except RateLimited as exc:
                self.retry_after = exc.retry_after
                raise forms.ValidationError(exc.detail, code="throttled") from None
            except Unauthenticated:
                raise self.get_invalid_login_error() from None
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data
