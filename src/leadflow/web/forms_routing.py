"""Forms of the routing settings screens (offices, groups, distribution rules). Like the other
forms they check types only; the services own every rule and answer ValidationFailed."""

from __future__ import annotations

import json

from django import forms

from leadflow.routing.models import Method

NO_CAP = "none"


class TeamForm(forms.Form):
    """An office or a group: a name and some of the project's members."""

    name = forms.CharField(required=False)
    members = forms.TypedMultipleChoiceField(
        coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, members, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["members"].choices = [(u.pk, u.label) for u in members]


def split_codes(text: str) -> list[str]:
    return [part.strip() for part in (text or "").replace(";", ",").split(",") if part.strip()]


def _value_text(value) -> str:
    """A custom condition value as typed: text as is, unless it would read as something else."""
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError:
            return value
        return json.dumps(value)
    return json.dumps(value)


def _typed(token: str):
    """`5` is a number, `true` a boolean, `"5"` the text 5, anything else text."""
    try:
        value = json.loads(token)
    except ValueError:
        return token
    return value if isinstance(value, str | int | float | bool) else token


def custom_to_text(custom: dict) -> str:
    lines = []
    for name, wanted in (custom or {}).items():
        values = wanted if isinstance(wanted, list) else [wanted]
        lines.append(f"{name} = {' | '.join(_value_text(v) for v in values)}")
    return "\n".join(lines)


def text_to_custom(text: str) -> dict:
    custom = {}
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, rest = line.partition("=")
        values = [_typed(v.strip()) for v in rest.split("|") if v.strip()]
        if not sep or not name.strip() or not values:
            raise forms.ValidationError(
                f"Line {number}: write field = value, or field = value | other value."
            )
        custom[name.strip()] = values if len(values) > 1 else values[0]
    return custom


class RuleForm(forms.Form):
    """A distribution rule. The per-agent fields (`weight_<id>`, `cap_<id>`) exist for the
    members of the rule's pool when `agents` is given (the edit screen)."""

    name = forms.CharField(required=False)
    pool = forms.TypedChoiceField(coerce=int, empty_value=None)
    method = forms.ChoiceField(choices=Method.choices, initial=Method.ROUND_ROBIN)
    active = forms.BooleanField(required=False, initial=True)
    sources = forms.TypedMultipleChoiceField(
        coerce=int, required=False, widget=forms.CheckboxSelectMultiple,
        label="Sources (any when none is ticked)",
    )
    buckets = forms.TypedMultipleChoiceField(
        coerce=int, required=False, widget=forms.CheckboxSelectMultiple,
        label="Buckets (any when none is ticked)",
    )
    countries = forms.CharField(required=False, help_text="ISO codes, comma-separated: DE, AT.")
    languages = forms.CharField(required=False,
                                help_text="Language codes, comma-separated: de, fr.")
    custom = forms.CharField(
        required=False, label="Custom fields", widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One condition a line: field = value, or field = value | other value.",
    )
    agent_cap = forms.IntegerField(
        required=False, label="Agent cap (open leads)",
        help_text="Members with this many open leads are skipped. Empty: no cap.",
    )

    def __init__(self, *args, pools, sources, buckets, agents=None, agents_url=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["pool"].choices = [(p.pk, p.name) for p in pools]
        if agents_url:
            # The per-agent rows follow the chosen pool before saving (htmx); without
            # JavaScript they change after the rule is saved with its new pool.
            self.fields["pool"].widget.attrs.update({
                "hx-get": agents_url, "hx-trigger": "change", "hx-target": "#per-agent",
                "hx-swap": "outerHTML",
            })
        self.fields["sources"].choices = [(s.pk, s.name) for s in sources]
        self.fields["buckets"].choices = [(b.pk, b.name) for b in buckets]
        self.agents = list(agents or [])
        for user in self.agents:
            self.fields[f"weight_{user.pk}"] = forms.IntegerField(
                required=False, label=f"Weight of {user.label}")
            self.fields[f"cap_{user.pk}"] = forms.CharField(
                required=False, label=f"Cap of {user.label}")

    @staticmethod
    def initial_from(rule) -> dict:
        initial = {
            "name": rule.name, "pool": rule.pool_id, "method": rule.method,
            "active": rule.active, "sources": rule.sources, "buckets": rule.buckets,
            "countries": ", ".join(rule.countries), "languages": ", ".join(rule.languages),
            "custom": custom_to_text(rule.custom), "agent_cap": rule.agent_cap,
        }
        for key, weight in rule.weights.items():
            initial[f"weight_{key}"] = weight
        for key, cap in rule.caps.items():
            initial[f"cap_{key}"] = NO_CAP if cap is None else cap
        return initial

    def clean_custom(self):
        return text_to_custom(self.cleaned_data["custom"])

    def clean(self):
        data = super().clean()
        for user in self.agents:
            key = f"cap_{user.pk}"
            text = (data.get(key) or "").strip().lower()
            if text and text != NO_CAP and not text.lstrip("-").isdigit():
                self.add_error(key, f"A whole number, '{NO_CAP}' or empty.")
        return data

    def agent_rows(self):
        """(user, weight field, cap field) for the per-agent table."""
        return [(u, self[f"weight_{u.pk}"], self[f"cap_{u.pk}"]) for u in self.agents]

    def values(self, *, per_agent: bool) -> dict:
        """The service's keyword arguments (without the name)."""
        data = self.cleaned_data
        values = {
            "pool": data["pool"], "method": data["method"], "active": data["active"],
            "sources": data["sources"], "buckets": data["buckets"],
            "countries": split_codes(data["countries"]),
            "languages": split_codes(data["languages"]),
            "custom": data["custom"], "agent_cap": data["agent_cap"],
        }
        if per_agent:
            weights, caps = {}, {}
            for user in self.agents:
                weight = data.get(f"weight_{user.pk}")
                if weight is not None:
                    weights[str(user.pk)] = weight
                cap = (data.get(f"cap_{user.pk}") or "").strip().lower()
                if cap == NO_CAP:
                    caps[str(user.pk)] = None
                elif cap:
                    caps[str(user.pk)] = int(cap)
            values.update(weights=weights, caps=caps)
        return values


class MoveForm(forms.Form):
    direction = forms.ChoiceField(choices=[("up", "Up"), ("down", "Down")])
