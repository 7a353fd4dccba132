"""Forms of lists, campaigns and exports. Like the other forms they check types only; the
services own every rule."""

from __future__ import annotations

from django import forms

from leadflow.exports.services import COLUMNS, DEFAULT_COLUMNS
from leadflow.lists.models import Campaign


class ListForm(forms.Form):
    name = forms.CharField(required=False, max_length=200, label="Name")
    timezone = forms.CharField(required=False, max_length=64, label="Time zone",
                               help_text="An IANA name such as Europe/Berlin; blank for none.")
    owner = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, label="Owner")
    description = forms.CharField(required=False, label="Description",
                                  widget=forms.Textarea(attrs={"rows": 2}))
    enabled = forms.BooleanField(required=False, initial=True,
                                 label="Enabled (its leads can be worked in campaigns)")

    def __init__(self, *args, members=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = [("", "Nobody"), *((u.pk, u.label) for u in members)]


class CampaignForm(forms.Form):
    name = forms.CharField(required=False, max_length=200, label="Name")
    channel = forms.ChoiceField(choices=Campaign.Channel.choices, label="Channel")
    description = forms.CharField(required=False, label="Description",
                                  widget=forms.Textarea(attrs={"rows": 2}))
    active = forms.BooleanField(required=False, initial=True, label="Active")


class ListLeadForm(forms.Form):
    lead = forms.CharField(max_length=254, label="Lead # or e-mail")


class CampaignListsForm(forms.Form):
    """The dual-list picker: lists ticked in either box, which box's "select all" is on, the
    searches, and the button pressed."""

    action = forms.ChoiceField(choices=[("assign", "Assign"), ("unassign", "Unassign"),
                                        ("search", "Search")])
    available = forms.TypedMultipleChoiceField(coerce=int, required=False)
    assigned = forms.TypedMultipleChoiceField(coerce=int, required=False)
    available_all = forms.BooleanField(required=False)
    assigned_all = forms.BooleanField(required=False)
    available_q = forms.CharField(required=False, max_length=200)
    assigned_q = forms.CharField(required=False, max_length=200)

    def __init__(self, *args, available=(), assigned=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["available"].choices = [(x.pk, x.name) for x in available]
        self.fields["assigned"].choices = [(x.pk, x.name) for x in assigned]


class ExportForm(forms.Form):
    format = forms.ChoiceField(choices=[("csv", "CSV"), ("xlsx", "Excel (XLSX)")],
                               initial="csv", widget=forms.RadioSelect, label="Format")
    columns = forms.MultipleChoiceField(
        choices=[(name, f"{name} — {column.description}") for name, column in COLUMNS.items()],
        initial=DEFAULT_COLUMNS, widget=forms.CheckboxSelectMultiple, label="Columns")
    custom = forms.CharField(required=False, max_length=1000, label="Custom fields",
                             help_text="Comma-separated field names, exported as custom.<name>.")

    def chosen_columns(self) -> list[str]:
        data = self.cleaned_data
        custom = [f"custom.{n.strip()}" for n in data.get("custom", "").split(",") if n.strip()]
        return [*data.get("columns", []), *custom]
