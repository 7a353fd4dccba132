"""The personal-data screen's form: a project and the person's e-mail or phone."""

from __future__ import annotations

from django import forms

from leadflow.projects.models import Project


class PersonForm(forms.Form):
    project = forms.ModelChoiceField(queryset=Project.objects.order_by("name"),
                                     empty_label=None, label="Project")
    person = forms.CharField(max_length=254, label="E-mail address or phone number")

    def identifier(self) -> dict[str, str]:
        """`{"email": ...}` or `{"phone": ...}`: an @ makes it an e-mail address."""
        value = self.cleaned_data["person"].strip()
        return {"email": value} if "@" in value else {"phone": value}
