"""Forms of the imports screens: the upload and the header mapping."""

from __future__ import annotations

from django import forms

from leadflow.imports.mapping import FIELD_LABELS, FIELDS
from leadflow.imports.models import ImportPolicy


class ImportUploadForm(forms.Form):
    file = forms.FileField(label="File (CSV or XLSX)")
    project = forms.ModelChoiceField(queryset=None, label="Project", empty_label=None)
    policy = forms.ChoiceField(label="Duplicates", choices=ImportPolicy.choices,
                               initial=ImportPolicy.SKIP)
    list_name = forms.CharField(label="List", required=False, max_length=200,
                                help_text="Optional: put the leads into this list (created if "
                                          "new).")
    dry_run = forms.BooleanField(label="Dry run first (check everything, write nothing)",
                                 required=False, initial=True)

    def __init__(self, *args, projects=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = projects
        self.fields["file"].widget.attrs["accept"] = ".csv,.txt,.tsv,.xlsx"


def field_choices(fields) -> list[tuple[str, str]]:
    """The targets a column may fill: nothing, a lead field, or one of the project's custom
    fields (`fields`, its field definitions)."""
    return [("", "— leave out —"), *[(f, FIELD_LABELS[f]) for f in FIELDS],
            *[(f"custom.{d.name}", f"Custom: {d.label or d.name}") for d in fields]]
