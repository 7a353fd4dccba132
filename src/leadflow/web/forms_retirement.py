"""The Retired leads screen's filters."""

from __future__ import annotations

from django import forms

from leadflow.accounts.access import managed_by
from leadflow.accounts.models import User
from leadflow.crm.filters import LeadFilters
from leadflow.projects.models import Project, Source
from leadflow.web.forms import _grouped


class RetiredFilterForm(forms.Form):
    """Search, project, source, and who had the lead when it retired."""

    q = forms.CharField(required=False, label="Search")
    project = forms.IntegerField(required=False, widget=forms.Select, label="Project")
    source = forms.IntegerField(required=False, widget=forms.Select, label="Source")
    had_it = forms.IntegerField(required=False, widget=forms.Select, label="Had it")

    def load_choices(self, actor) -> None:
        projects = list(managed_by(actor, Project.objects.all(), "pk").order_by("name"))
        ids = [p.pk for p in projects]
        sources = Source.objects.filter(project_id__in=ids).order_by("project_id", "name")
        users = User.objects.filter(memberships__project_id__in=ids).distinct().order_by("email")
        self.fields["project"].widget.choices = [("", "All projects")] + [
            (p.pk, p.name) for p in projects]
        self.fields["source"].widget.choices = [("", "Any source"), *_grouped(sources, projects)]
        self.fields["had_it"].widget.choices = [("", "Anyone")] + [
            (u.pk, u.label) for u in users]
        self.show_project = len(projects) > 1

    def to_filters(self) -> LeadFilters:
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        return LeadFilters(q=data.get("q") or None, project=data.get("project"),
                           source=data.get("source"))

    def had_it_user(self) -> User | None:
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        if not data.get("had_it"):
            return None
        return User.objects.filter(pk=data["had_it"]).first()
