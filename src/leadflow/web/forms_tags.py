"""Forms of tags: the lead page's tags panel, the approvals queue and the tag settings
screens. Like the other forms they check types only; the services own every rule."""

from __future__ import annotations

from django import forms

from leadflow.tags.models import RuleAction


class LeadTagForm(forms.Form):
    """One tag to add or remove, by name."""

    add = forms.CharField(required=False, max_length=100, label="Add a tag")
    remove = forms.CharField(required=False, max_length=100)


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    reason = forms.CharField(required=False, max_length=2000, label="Reason")


class TagForm(forms.Form):
    name = forms.CharField(required=False, max_length=100, label="Name")
    is_modifiable = forms.BooleanField(required=False, initial=True,
                                       label="Agents may add and remove it")


class TagRuleForm(forms.Form):
    tag = forms.TypedChoiceField(coerce=int, label="When this tag is applied")
    action = forms.ChoiceField(choices=RuleAction.choices, label="Do this")
    notify_owner = forms.BooleanField(required=False, label="Notify the owner")
    notify_managers = forms.BooleanField(required=False, label="Notify the project's managers")
    notify_users = forms.TypedMultipleChoiceField(
        coerce=int, required=False, widget=forms.CheckboxSelectMultiple, label="Notify these users"
    )
    message = forms.CharField(required=False, max_length=500, label="Message (notify)")
    active = forms.BooleanField(required=False, initial=True, label="Active")

    def __init__(self, *args, tags, members, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tag"].choices = [(t.pk, t.name) for t in tags]
        self.fields["notify_users"].choices = [(u.pk, u.label) for u in members]
        self.tags = {t.pk: t for t in tags}

    def values(self) -> dict:
        data = dict(self.cleaned_data)
        data["tag"] = self.tags[data["tag"]]
        return data
