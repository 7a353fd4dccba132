"""Forms of the clients screens: search, edit a client, convert a lead."""

from __future__ import annotations

from django import forms

from leadflow.accounts.models import User
from leadflow.web.forms import split_phones


class ClientSearchForm(forms.Form):
    q = forms.CharField(required=False, label="Search")


class ClientForm(forms.Form):
    """A client's contact fields and, for managers, its owner."""

    name = forms.CharField(required=False)
    email = forms.CharField(required=False, label="E-mail",
                            widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    phones = forms.CharField(required=False, label="Phones", help_text="One per line, up to 5.",
                             widget=forms.Textarea(attrs={"rows": 2}))
    company = forms.CharField(required=False)
    owner = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)

    def __init__(self, *args, client, manages: bool, **kwargs):
        kwargs.setdefault("initial", {
            "name": client.name, "email": client.email, "phones": "\n".join(client.phones),
            "company": client.company, "owner": client.owner_id,
        })
        super().__init__(*args, **kwargs)
        self.owners: dict[int, User] = {}
        if manages:
            members = User.objects.filter(memberships__project_id=client.project_id,
                                          is_active=True).order_by("email")
            self.owners = {u.pk: u for u in members}
            self.fields["owner"].choices = [("", "Nobody")] + [
                (u.pk, u.label) for u in self.owners.values()]
        else:
            del self.fields["owner"]

    def changes(self) -> dict:
        data = {key: self.cleaned_data.get(key, "") for key in ("name", "email", "company")}
        data["phones"] = split_phones(self.cleaned_data.get("phones", ""))
        if "owner" in self.fields:
            owner_id = self.cleaned_data.get("owner")
            data["owner"] = self.owners.get(owner_id) if owner_id is not None else None
        return data


class ConvertForm(forms.Form):
    """Convert into a new client, or into one of the clients the lead matches."""

    into = forms.TypedChoiceField(coerce=int, required=False, empty_value=None,
                                  label="Convert into", widget=forms.RadioSelect)

    def __init__(self, *args, candidates, **kwargs):
        super().__init__(*args, **kwargs)
        self.candidates = {c.pk: c for c in candidates}
        self.fields["into"].choices = [("", "A new client")] + [
            (c.pk, f"Existing client #{c.pk} {c.name}" + (f" ({c.email})" if c.email else ""))
            for c in candidates
        ]
        self.fields["into"].initial = ""

    def chosen(self):
        chosen = self.cleaned_data.get("into")
        return self.candidates.get(chosen) if chosen is not None else None
