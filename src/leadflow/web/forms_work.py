"""Forms of working a lead: activities, next call, the managed lists and the pipeline board.
They check types only; the services check every rule."""

from __future__ import annotations

from django import forms
from django.utils import timezone

from leadflow.activities.models import ActivityKind
from leadflow.projects.access import active_call_outcomes


class ActivityForm(forms.Form):
    kind = forms.ChoiceField(choices=ActivityKind.choices, initial=ActivityKind.CALL)
    outcome = forms.ChoiceField(required=False, label="Call outcome")
    duration_minutes = forms.DecimalField(
        required=False, label="Duration (minutes)", min_value=0, max_digits=6, decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "0.5", "min": "0"}),
    )
    body = forms.CharField(required=False, label="Note",
                           widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, project_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["outcome"].choices = [("", "—")] + [
            (o.name, o.name) for o in active_call_outcomes(project_id)
        ]

    def service_values(self) -> dict:
        data = self.cleaned_data
        minutes = data.get("duration_minutes")
        return {
            "outcome": data.get("outcome") or None,
            "duration_seconds": int(minutes * 60) if minutes is not None else None,
            "body": data.get("body") or "",
        }

    def add_error(self, field, error):
        # The service speaks of seconds; the form asks for minutes.
        super().add_error("duration_minutes" if field == "duration_seconds" else field, error)


class NextCallForm(forms.Form):
    next_call_at = forms.DateTimeField(
        required=False, label="Next call",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    clear = forms.BooleanField(required=False)

    @classmethod
    def for_lead(cls, lead) -> NextCallForm:
        value = timezone.localtime(lead.next_call_at) if lead.next_call_at else None
        return cls(initial={"next_call_at": value})

    def chosen(self):
        if self.cleaned_data.get("clear"):
            return None
        return self.cleaned_data.get("next_call_at")

    def clean(self):
        data = super().clean()
        if not data.get("clear") and data.get("next_call_at") is None and not self.errors:
            self.add_error("next_call_at", "Choose a date and time, or clear the next call.")
        return data


class ChoiceAddForm(forms.Form):
    name = forms.CharField(required=False)


class ChoiceEditForm(forms.Form):
    name = forms.CharField(required=False)
    position = forms.IntegerField(required=False, min_value=1,
                                  widget=forms.NumberInput(attrs={"size": 3, "min": 1}))
    active = forms.BooleanField(required=False)
